"""espml: take a neural network to a measured deployment on ESP32-S3 boards."""

__version__ = "0.1.0"
