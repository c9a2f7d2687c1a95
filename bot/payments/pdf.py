"""One-page PDF documents (reportlab) with a QR code of their verification URL (segno).

DejaVu Sans is embedded (fonts/, Bitstream Vera licence) so every name prints as written, not
only Latin-1 ones. The QR is drawn as vector squares from segno's module matrix: sharp at any
zoom, no image library involved. Output is deterministic (reportlab's invariant mode): the same
facts make the same bytes.
"""

import io
from pathlib import Path

FONTS = Path(__file__).resolve().parent / "fonts"
MARGIN = 56
_registered = False


def _fonts():
    global _registered
    if not _registered:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("DocSans", str(FONTS / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DocSans-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
        _registered = True


def _qr(canvas, url, x, top, size):
    """Draw url's QR code with its top-left corner at (x, top), size points wide: each run of
    dark modules in a row is one rectangle (a third of the drawing operations of one per
    module), all in one path."""
    import segno

    matrix = segno.make(url, error="m", micro=False).matrix
    cell = size / len(matrix)
    path = canvas.beginPath()
    for row, modules in enumerate(matrix):
        start = None
        for col, dark in enumerate((*modules, 0)):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                path.rect(x + start * cell, top - (row + 1) * cell, (col - start) * cell, cell)
                start = None
    canvas.drawPath(path, stroke=0, fill=1)


def _chunks(text, size, width):
    """text cut into lines that fit width (a URL has no spaces to break at)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for char in text:
        if line and stringWidth(line + char, "DocSans", size) > width:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


def render(title, issuer, rows, statement, verify_url, verify_label, footer):
    """PDF bytes of a document: title, issuer, (label, value) rows, an optional statement
    paragraph, the QR of verify_url with its label, and a footer line."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas as pdfcanvas

    _fonts()
    buffer = io.BytesIO()
    width, height = A4
    c = pdfcanvas.Canvas(buffer, pagesize=A4, pageCompression=1, invariant=1)
    c.setTitle(title)
    c.setAuthor(issuer)
    top = height - MARGIN
    qr_size = 120
    _qr(c, verify_url, width - MARGIN - qr_size, top, qr_size)
    # The code is also a link: a reader of the PDF on a phone taps it instead of scanning it.
    x = width - MARGIN - qr_size
    c.linkURL(verify_url, (x, top - qr_size, x + qr_size, top), relative=0)
    c.setFont("DocSans", 7)
    lines = simpleSplit(verify_label, "DocSans", 7, qr_size) + _chunks(verify_url, 7, qr_size)
    for i, line in enumerate(lines):
        c.drawString(x, top - qr_size - 12 - 9 * i, line)
    c.setFont("DocSans-Bold", 18)
    c.drawString(MARGIN, top - 18, title)
    c.setFont("DocSans", 11)
    c.drawString(MARGIN, top - 40, issuer)
    y = top - 80
    label_width = 175
    value_width = width - 2 * MARGIN - label_width - qr_size - 20
    for label, value in rows:
        c.setFont("DocSans-Bold", 10)
        c.drawString(MARGIN, y, label)
        c.setFont("DocSans", 10)
        wrapped = simpleSplit(str(value), "DocSans", 10, value_width) or [""]
        for i, line in enumerate(wrapped):
            c.drawString(MARGIN + label_width, y - 13 * i, line)
        y -= 13 * len(wrapped) + 8
    if statement:
        y = min(y, top - qr_size - 60) - 12
        c.setFont("DocSans", 11)
        for line in simpleSplit(statement, "DocSans", 11, width - 2 * MARGIN):
            c.drawString(MARGIN, y, line)
            y -= 16
    c.setFont("DocSans", 8)
    for i, line in enumerate(simpleSplit(footer, "DocSans", 8, width - 2 * MARGIN)):
        c.drawString(MARGIN, MARGIN + 12 - 10 * i, line)
    c.showPage()
    c.save()
    return buffer.getvalue()
