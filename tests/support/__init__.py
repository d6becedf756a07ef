"""Test helpers: real servers started on free ports, fake model providers over HTTP."""
