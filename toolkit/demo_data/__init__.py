"""The bundled reference model and held-out digits (links to fixtures/reference, shipped as package data)."""
