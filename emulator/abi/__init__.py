"""The binary interface: callback signatures and structure layouts (spec sections 1, 2 and 4)."""
