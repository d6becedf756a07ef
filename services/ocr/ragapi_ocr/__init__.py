"""The OCR service: PDFs, scans, images and office files to markdown plus a content list."""
