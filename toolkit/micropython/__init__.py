"""MicroPython boards: the agent's source (``board_src/``), deploying it and a model over the raw
REPL (``deploy``), and the virtual MicroPython board (``virtual``, guest side in ``vboard_src/``)."""
