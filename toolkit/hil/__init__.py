"""Hardware-in-the-loop regression runs: the pytest plugin (``toolkit.hil.plugin``), boards held
by workers, baselines with tolerances, and the run's results for the report."""
