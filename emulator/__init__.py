"""rasemu: a cross-platform emulator and conformance harness for Windows RAS administration DLLs."""

__version__ = "0.1.0"
