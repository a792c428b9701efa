"""Conversion to full-integer int8 TFLite (needs the 'convert' extra: torch, TensorFlow, onnx2tf)."""

from toolkit.convert.pipeline import ConversionResult, convert, require_convert_extra

__all__ = ["ConversionResult", "convert", "require_convert_extra"]
