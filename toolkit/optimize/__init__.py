"""The multi-component optimisation sequence for torch models (needs the 'convert' extra)."""
