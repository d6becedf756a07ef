"""OCR engines behind one interface: :class:`.base.OcrEngine`."""
