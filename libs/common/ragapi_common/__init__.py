"""The shared async library of the ragapi services."""
