"""A minimal writer of legacy Excel .xls files (BIFF8 in an OLE2 compound
document), for tests only.

Why this exists: the tests must feed real .xls workbooks to parse_excel, but
the environment has no xlwt (and no PyPI access to get it), LibreOffice or
any other .xls producer; pandas and openpyxl cannot write .xls. BIFF8 needs
only a handful of records for plain values, so the tests build the bytes
themselves and the reader under test (xlrd, via pandas) sees a genuine .xls.

Supported cell values: str, int, float, bool, datetime.date/datetime (stored
as date serials with the built-in date formats), None (empty cell).
"""

import datetime as _dt
import struct

_BOF, _EOF, _CODEPAGE, _DATEMODE = 0x0809, 0x000A, 0x0042, 0x0022
_XF, _BOUNDSHEET, _DIMENSIONS = 0x00E0, 0x0085, 0x0200
_NUMBER, _LABEL, _BOOLERR = 0x0203, 0x0204, 0x0205

# XF indexes this writer emits: 0 General, 1 date (fmt 14), 2 datetime (fmt 22)
_XF_GENERAL, _XF_DATE, _XF_DATETIME = 0, 1, 2

_ENDOFCHAIN, _FREESECT, _FATSECT, _NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
_SECTOR = 512


def _record(rtype, data=b""):
    return struct.pack("<HH", rtype, len(data)) + data


def _unicode(s, lenlen):
    raw = s.encode("utf-16-le")
    head = struct.pack("<B" if lenlen == 1 else "<H", len(s))
    return head + b"\x01" + raw  # flag 1: uncompressed UTF-16LE


def _bof(stream_type):
    return _record(_BOF, struct.pack("<HHHHII", 0x0600, stream_type, 0x0DBB, 0x07CC, 0, 0x06))


def _xf(fmt):
    # font 0, format fmt, cell XF whose parent is style XF 0; the rest zero
    return _record(_XF, struct.pack("<HHHBBBBIiH", 0, fmt, 0x0000, 0x20, 0, 0, 0, 0, 0, 0))


def _serial(d):
    base = _dt.datetime(1899, 12, 30)
    if not isinstance(d, _dt.datetime):
        d = _dt.datetime(d.year, d.month, d.day)
    delta = d - base
    return delta.days + delta.seconds / 86400.0


def _cell(r, c, v):
    if v is None:
        return b""
    if isinstance(v, bool):
        return _record(_BOOLERR, struct.pack("<HHHBB", r, c, _XF_GENERAL, int(v), 0))
    if isinstance(v, (int, float)):
        return _record(_NUMBER, struct.pack("<HHHd", r, c, _XF_GENERAL, float(v)))
    if isinstance(v, _dt.datetime):
        return _record(_NUMBER, struct.pack("<HHHd", r, c, _XF_DATETIME, _serial(v)))
    if isinstance(v, _dt.date):
        return _record(_NUMBER, struct.pack("<HHHd", r, c, _XF_DATE, _serial(v)))
    return _record(_LABEL, struct.pack("<HHH", r, c, _XF_GENERAL) + _unicode(str(v), 2))


def _sheet_stream(rows):
    ncols = max((len(r) for r in rows), default=0)
    out = [_bof(0x0010),
           _record(_DIMENSIONS, struct.pack("<IIHHH", 0, len(rows), 0, ncols, 0))]
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            out.append(_cell(r, c, v))
    out.append(_record(_EOF))
    return b"".join(out)


def workbook_stream(sheets):
    """sheets: list of (name, rows) where rows is a list of lists."""
    head = [_bof(0x0005), _record(_CODEPAGE, struct.pack("<H", 1200)),
            _record(_DATEMODE, struct.pack("<H", 0))]
    # 16 style XFs are customary; xlrd only needs the ones cells refer to.
    head += [_xf(0), _xf(14), _xf(22)]
    sheet_streams = [_sheet_stream(rows) for _, rows in sheets]
    bound_len = sum(len(_record(_BOUNDSHEET, b"\0" * 6 + _unicode(n, 1))) for n, _ in sheets)
    offset = sum(len(x) for x in head) + bound_len + len(_record(_EOF))
    bounds = []
    for (name, _), stream in zip(sheets, sheet_streams):
        bounds.append(_record(_BOUNDSHEET, struct.pack("<IBB", offset, 0, 0) + _unicode(name, 1)))
        offset += len(stream)
    return b"".join(head + bounds + [_record(_EOF)] + sheet_streams)


def _dir_entry(name, etype, child, start, size):
    raw = (name + "\0").encode("utf-16-le") if name else b""
    return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), etype, 1)
            + struct.pack("<III", _NOSTREAM, _NOSTREAM, child) + b"\0" * 16
            + struct.pack("<IQQIQ", 0, 0, 0, start, size))


def compound_file(stream, name="Workbook"):
    """Wraps one stream in an OLE2 compound document (version 3, 512-byte
    sectors, no mini stream: the stream is padded to >= 4096 bytes)."""
    stream = stream.ljust(max(4096, len(stream)), b"\0")
    size = len(stream)
    stream = stream.ljust(-(-size // _SECTOR) * _SECTOR, b"\0")
    n_stream = len(stream) // _SECTOR
    n_fat = 1
    while n_fat * (_SECTOR // 4) < n_stream + 1 + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("stream too large for this writer")
    dir_sector = n_stream
    fat = [i + 1 for i in range(n_stream - 1)] + [_ENDOFCHAIN]  # the stream's chain
    fat += [_ENDOFCHAIN]                                         # the directory
    fat += [_FATSECT] * n_fat
    fat += [_FREESECT] * (n_fat * (_SECTOR // 4) - len(fat))
    difat = [dir_sector + 1 + i for i in range(n_fat)] + [_FREESECT] * (109 - n_fat)
    header = (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, n_fat, dir_sector, 0, 4096, _ENDOFCHAIN, 0,
                            _ENDOFCHAIN, 0)
              + struct.pack("<109I", *difat))
    assert len(header) == _SECTOR
    directory = (_dir_entry("Root Entry", 5, 1, _ENDOFCHAIN, 0)
                 + _dir_entry(name, 2, _NOSTREAM, 0, size)
                 + _dir_entry("", 0, _NOSTREAM, 0, 0) * 2)
    fat_bytes = struct.pack("<%dI" % len(fat), *fat)
    return header + stream + directory + fat_bytes


def write_xls(path, sheets):
    """Writes sheets [(name, rows)] to path as a BIFF8 .xls workbook."""
    with open(path, "wb") as f:
        f.write(compound_file(workbook_stream(sheets)))
    return path
