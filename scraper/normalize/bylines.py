"""Bylines -> authors, agencies and the ``Theo …`` source.

The forms seen on the sites we follow (sites.md: qdnd.vn notes, "Text quirks"):

    Anh Thư                              a bare name on the last line (quankhu3.vn)
    Tin, ảnh: VĂN TOẢN                   a role prefix (Bài, ảnh: · Bài và ảnh: · Thực hiện: …)
    TIẾN DŨNG-VĂN CHUNG · A, B · A và B  several names
    CHÍNH LÂN (thực hiện)                a role suffix
    Đại tá HOÀNG TUẤN, Viện trưởng …     a rank before and an office after the name
    TTXVN · Theo TTXVN                   an agency; ``Theo X`` names the source

Names written in capitals are title-cased (``VĂN TOẢN`` -> ``Văn Toản``); ranks,
honorifics, offices, roles, photo credits in parentheses, the end mark ``./.``
and promo lines are dropped.  Whether a comma-separated piece is a second name
or an office is decided by its shape: a name is 1-5 capitalized words, none of
them a word that never occurs in Vietnamese personal names (``viện``, ``trưởng``,
``của`` …), and a name of three or more words starts with a surname.

``looks_like_byline`` is what the extractor asks about the last paragraphs of a
body; a false positive deletes a paragraph of text, so it says no to anything
sentence-like.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from scraper.text import clean_text, fold_accents

__all__ = ["Byline", "looks_like_byline", "parse_byline"]

MAX_BYLINE_WORDS = 12  # longer paragraphs are text, not credits
MAX_NAMES = 4  # looks_like_byline: more names in one line is a list, not a byline
MAX_NAME_WORDS = 5
MAX_OFFICE_WORDS = 10  # "Đại tá HOÀNG TUẤN, Viện trưởng Viện …" (longer: a caption sentence)
MAX_BYLINE_CHARS = 1000  # longer input is body text: parse_byline returns an empty Byline


@dataclass(frozen=True)
class Byline:
    """Who wrote an article: people, credited agencies, and the ``Theo …`` origin."""

    authors: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    source: str | None = None


# --- vocabulary ---------------------------------------------------------------------------

_RANKS = (
    "Đại tướng", "Thượng tướng", "Trung tướng", "Thiếu tướng",
    "Đô đốc", "Phó Đô đốc", "Chuẩn Đô đốc",
    "Đại tá", "Thượng tá", "Trung tá", "Thiếu tá",
    "Đại úy", "Thượng úy", "Trung úy", "Thiếu úy", "Chuẩn úy",
    "Thượng sĩ", "Trung sĩ", "Hạ sĩ", "Binh nhất", "Binh nhì",
)  # fmt: skip
_HONORIFICS = (
    "Đồng chí", "Nhà báo", "Nhà văn", "Nhà thơ", "Nhà nghiên cứu", "Nhà giáo",
    "Giáo sư", "Phó giáo sư", "Tiến sĩ", "Thạc sĩ", "Bác sĩ", "Kỹ sư", "Luật sư",
    "Anh hùng", "Cựu chiến binh", "Nghệ sĩ nhân dân", "Nghệ sĩ ưu tú",
    "PGS", "GS", "TSKH", "TS", "ThS", "Th.S", "BS", "KS", "LS", "CCB", "NSND", "NSƯT", "NGƯT",
)  # fmt: skip


def _title_pattern(title: str) -> str:
    # "Đại úy" and "Đại uý" are both in use (old and new accent placement).
    return re.escape(title).replace("úy", "(?:úy|uý)").replace(r"\ ", r"\s+")


_TITLES = "|".join(_title_pattern(t) for t in sorted(_RANKS + _HONORIFICS, key=len, reverse=True))
_LEADING_TITLES = re.compile(rf"^(?:(?:{_TITLES})(?![^\W\d_])[.\s,]*)+", re.I)
# "PGS, TS" / "Đại tá, TS": the comma between two titles is not a name separator.
_TITLE_COMMA = re.compile(rf"(?<!\w)((?:{_TITLES})\.?)\s*,\s*(?=(?:{_TITLES})(?![^\W\d_]))", re.I)
_COMRADE_ABBR = re.compile(r"(?<!\w)đ/c\.?(?=\s)", re.I)

# "Tin, ảnh:", "Bài và ảnh:", "Thực hiện:" … anywhere in the line: each starts a new credit.
_ROLE_LABEL = re.compile(
    r"(?<!\w)(?:(?:tin|bài|bài viết|video)\s*(?:,|và|&|\+|/)\s*ảnh|ảnh\s*(?:,|và|&)\s*(?:bài|tin)"
    r"|tin|bài|bài viết|ảnh|video|clip|thực hiện|tác giả|nhóm phóng viên|nhóm pv|phóng viên"
    r"|đồ họa|đồ hoạ|thiết kế|trình bày|ghi|biên dịch|lược dịch|dịch|tổng hợp|biên tập)\s*:\s*",
    re.I,
)
_SOURCE_LABEL = re.compile(r"(?<!\w)nguồn\s*:\s*", re.I)
# A role in parentheses after a name: "(thực hiện)", "(tổng hợp)", "(st)" …
_ROLE_WORDS = re.compile(
    r"^(?:thực hiện|tổng hợp|tổng thuật|lược dịch|biên dịch|dịch|ghi|ghi chép|sưu tầm|st|biên soạn"
    r"|giới thiệu|phỏng vấn|trình bày|chuyển ngữ|tổng hợp và dịch)\.?$",
    re.I,
)
_PHOTO_CREDIT = re.compile(r"^(?:ảnh|nguồn ảnh|ảnh minh họa|ảnh minh hoạ)\b", re.I)
_ANONYMOUS = {
    "pv",
    "ctv",
    "btv",
    "ptv",
    "nhóm pv",
    "phóng viên",
    "nhóm phóng viên",
    "cộng tác viên",
}

_KNOWN_AGENCIES = {
    "ttxvn", "vna", "qđnd", "qdnd", "qđnd online", "vietnam+", "vietnamplus", "vtv", "vov", "vtc",
    "cand", "qpvn", "vnexpress", "tass", "reuters", "afp", "ap", "xinhua", "tân hoa xã", "sputnik",
    "ria novosti", "bbc", "cnn", "kyodo", "yonhap", "bernama", "al jazeera", "quân đội nhân dân",
    "thông tấn xã việt nam", "truyền hình quốc phòng",
    # papers whose names read like a person's when title-cased ("Theo Tuổi Trẻ", "Theo Hà Nội Mới")
    "tuổi trẻ", "thanh niên", "nhân dân", "tiền phong", "lao động", "người lao động", "hà nội mới",
    "dân trí", "dân việt", "đại đoàn kết", "sài gòn giải phóng", "công an nhân dân", "pháp luật",
    "kinh tế đô thị", "an ninh thủ đô", "giáo dục thời đại", "vietnamnet", "znews", "zing", "vtc news",
}  # fmt: skip
_AGENCY_PREFIX = re.compile(
    r"^(?:báo|tạp chí|đài|truyền hình|thông tấn xã|cổng thông tin(?: điện tử)?|trang thông tin(?: điện tử)?"
    r"|nhà xuất bản|tuần báo|nhật báo|kênh|tạp chí điện tử|báo điện tử)\s+(?=[^\W_])",
    re.I,
)
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.(?:vn|com|net|org|info|gov|edu)(?:\.vn)?$", re.I)
# Agency names that contain a dash, protected from the name splitter.
_DASHED_AGENCIES = re.compile(r"(Phòng\s+không)\s*[-–—]\s*(Không\s+quân)", re.I)
_PROTECTED_DASH = "\u2011"  # non-breaking hyphen, restored to " - " in the output

# Words found in offices, units, dates, promo and sentences but in no personal name.
# Words that are also given names or surnames (Quân, Trường, Khoa, Bình, Nhân, Việt, Trung,
# Đại, Huy, Trang, Công, Chí, Thông, Tấn, Liên, Từ, Năm, Sinh …) are deliberately absent.
_NOT_NAME_WORDS = {
    "của", "và", "các", "những", "trong", "với", "cho", "tại", "là", "có", "được", "không", "một",
    "đã", "sẽ", "này", "đó", "khi", "về", "đến", "theo", "xem", "thêm", "mời", "bạn", "đọc",
    "tin", "bài", "ảnh", "video", "chủ", "tiếp", "mục", "ngày", "tháng", "giờ", "phút", "trước",
    "sau", "hôm", "nay", "qua", "thứ", "viện", "trưởng", "phó", "bộ", "cục", "sở", "ủy", "uỷ",
    "đảng", "tỉnh", "huyện", "phường", "quận", "xã", "đội", "khu", "nghị", "kết", "quả", "tổng",
    "tác", "chỉ", "giám", "đốc", "lệnh", "cán", "binh", "lính", "đơn", "vị", "học", "viên",
    "người", "nước", "nhiều", "rất", "cùng", "đang", "vừa", "xong", "lượt", "luận", "chia", "sẻ",
    "gửi", "lên", "đầu", "bản", "tiếng", "phòng", "ban", "đồn", "tướng", "tá", "úy", "uý", "nhà",
    "báo", "độc", "giả", "ký", "tập", "thực", "hiện", "dịch", "nguồn", "hình", "họa", "hoạ",
    "mưu", "nghiệp", "tham", "nhiệm", "tịch", "đoàn", "huấn", "luyện",
}  # fmt: skip
# Offices and units that follow a name after a comma ("HOÀNG TUẤN, Viện trưởng Viện …").
_OFFICE = re.compile(
    r"(?<!\w)(?:viện|trưởng|phó|giám đốc|chủ nhiệm|chính ủy|chính uỷ|tư lệnh|bí thư|chủ tịch"
    r"|học viện|trường|bộ|cục|sở|ban|phòng|đồn|sư đoàn|lữ đoàn|trung đoàn|tiểu đoàn|đại đội"
    r"|quân khu|quân đoàn|chỉ huy|biên phòng|hải quân|đảng ủy|đảng uỷ|ủy ban|uỷ ban|đại học"
    r"|giảng viên|học viên|sinh viên|phóng viên|cộng tác viên|biên tập viên|nghiên cứu viên"
    r"|tỉnh|thành phố|huyện|xã|phường|quận|công an|tham mưu|cán bộ|nhân viên|chiến sĩ|báo"
    r"|tạp chí|nguyên|đơn vị|trợ lý|trợ lí)(?!\w)",
    re.I,
)

# A name of three or more words starts with a surname ("Phạm Hoàng Long"); this keeps
# capitalized sub-headings ("NÂNG CAO CHẤT LƯỢNG") from passing for names.
_SURNAMES = {
    "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi", "đỗ",
    "hồ", "ngô", "dương", "lý", "lương", "đinh", "trịnh", "đoàn", "đào", "mai", "trương", "lâm",
    "phùng", "tạ", "hà", "cao", "tô", "chu", "vương", "thái", "lưu", "la", "quách", "tăng",
    "triệu", "kiều", "khúc", "hứa", "lại", "mạc", "nông", "lò", "lục", "châu", "tôn", "thân",
    "giang", "kim", "diệp", "từ", "bạch", "âu", "mã", "quan", "ninh", "thạch", "tiêu", "đàm",
    "đồng", "đậu", "hầu", "khổng", "khương", "lã", "lạc", "mạnh", "nghiêm", "ông", "phí", "phó",
    "quản", "sầm", "sơn", "tống", "trình", "ứng", "vi", "vy", "yên", "bế", "lường", "cù", "cấn",
    "doãn", "hàn", "lữ", "mẫn", "tiết", "tòng", "viên", "thiều", "chế", "lam", "mông", "nhữ",
    "trà", "hoa", "ngọ", "nhâm", "phương", "thi", "khuất", "giáp", "đường", "đống", "văn",
    "y", "h", "ksor", "rơ", "siu", "rmah", "kpă", "ka", "vàng", "sùng", "giàng", "thào",
    "mùa", "hờ", "sình", "lầu", "cà", "quàng", "điêu", "ma", "hồng", "bàn",
}  # fmt: skip

_SPLIT = re.compile(r"\s*[;,/&|\-–—]\s*|\s+(?:và|and)\s+", re.I)
_PAREN = re.compile(r"\(([^()]*)\)")
_END_MARK = re.compile(r"\s*\./\.\s*")
_PROMO = re.compile(
    r"^\*?\s*mời\s+(?:bạn\s+đọc|quý\s+vị)|xem\s+các\s+tin,?\s+bài\s+liên\s+quan"
    r"|^(?:xem|đọc)\s+thêm\b|^tin\s+liên\s+quan\b|^bài\s+liên\s+quan\b",
    re.I,
)
_EDGE_JUNK = " \t.,;:!?-–—·•*\"'“”‘’«»[]()"
_VOWELS = set("aeiouy")


# --- public functions ---------------------------------------------------------------------


def parse_byline(text: str | None) -> Byline:
    """Authors, agencies and source of one byline line; empty Byline if there is none."""
    s = _prepare(text)
    if not s:
        return Byline()
    authors: list[str] = []
    agencies: list[str] = []
    source: str | None = None
    for kind, value in _classify_all(s):
        if kind == "name":
            authors.append(value)
        elif kind == "agency":
            agencies.append(value)
        elif kind == "source":
            source = source or value
            agencies.append(value)
    return Byline(tuple(_unique(authors)), tuple(_unique(agencies)), source)


def looks_like_byline(text: str | None) -> bool:
    """True if a short paragraph is plausibly a credit line rather than text or a caption."""
    raw = clean_text(text)
    s = _prepare(text)
    if not s or len(s) > 200:
        return False
    if raw.endswith(".") and not raw.endswith("./.") and len(s.split()) > 8:
        return False  # a sentence
    labelled = bool(_ROLE_LABEL.match(s) or _SOURCE_LABEL.match(s) or re.match(r"theo\s", s, re.I))
    pieces = _classify_all(s)
    if not pieces:
        return False
    kinds = [k for k, _ in pieces]
    # offices after a name may be long ("Viện trưởng Viện Lịch sử quân sự Việt Nam"); the rest not
    office_words = [len(_words(v)) for k, v in pieces if k == "office"]
    if any(n > MAX_OFFICE_WORDS for n in office_words):
        return False
    # role labels and "(thực hiện)" do not count, the names and any other text do
    if sum(len(_words(v)) for k, v in pieces if k != "office") > MAX_BYLINE_WORDS:
        return False
    if "other" in kinds and not labelled:
        return False
    if kinds[0] not in ("name", "agency", "source", "anonymous") and not labelled:
        return False
    names = kinds.count("name")
    if names > MAX_NAMES:
        return False
    if names == 0:
        return any(k in ("agency", "source", "anonymous") for k in kinds)
    if names == 1 and len(pieces) == 1 and not labelled:
        # one bare name: a single word is too weak ("Xem", a heading word) unless qualified
        return len(pieces[0][1].split()) >= 2 or _had_qualifier(s)
    return True


# --- internals ----------------------------------------------------------------------------


def _prepare(text: str | None) -> str:
    """Clean one-line text without the end mark; "" for promo lines and long text."""
    s = clean_text(text)
    if not s or len(s) > MAX_BYLINE_CHARS or _PROMO.search(s):
        return ""
    s = _END_MARK.sub(" ", s).strip()
    return s.strip(_EDGE_JUNK.replace("(", "").replace(")", ""))


def _had_qualifier(s: str) -> bool:
    """A rank, honorific, role label or role suffix makes a single word a credible name."""
    return bool(_LEADING_TITLES.match(s) or _ROLE_LABEL.search(s) or _PAREN.search(s))


def _classify_all(s: str) -> list[tuple[str, str]]:
    """The pieces of a byline as (kind, value).

    Kinds: name, agency, source, anonymous ("PV"), office (a title or unit after a
    name, "Viện trưởng Viện …"), other (anything else: text, a caption).
    """
    s = _DASHED_AGENCIES.sub(lambda m: f"{m.group(1)}{_PROTECTED_DASH}{m.group(2)}", s)
    s, notes = _resolve_parentheses(s)
    s = _SOURCE_LABEL.sub(" ; Theo ", s)
    s = _ROLE_LABEL.sub(" ; ", s)
    s = _TITLE_COMMA.sub(r"\1 ", s)
    s = _COMRADE_ABBR.sub("Đồng chí", s)
    body: list[tuple[str, str]] = []
    for piece in _SPLIT.split(s):
        piece = piece.strip(_EDGE_JUNK)
        if not piece:
            continue
        kind, value = _classify(piece)
        if kind == "title-only":
            continue  # "Trung tướng, PGS, TS Nguyễn Văn A": the rank stood alone
        if kind == "other" and _is_office(piece) and any(k == "name" for k, _ in body):
            kind = "office"  # "HOÀNG TUẤN, Viện trưởng …": the office of the name before it
        body.append((kind, value))
    # parenthesized agencies and sources ("(TTXVN)", "(Theo …)") come after the names
    return body + notes


def _resolve_parentheses(s: str) -> tuple[str, list[tuple[str, str]]]:
    """Remove "(…)" notes; agencies and sources in them are returned, roles and places dropped."""
    notes: list[tuple[str, str]] = []

    def repl(m: re.Match[str]) -> str:
        inner = m.group(1).strip(_EDGE_JUNK)
        if not inner or _ROLE_WORDS.match(inner) or _PHOTO_CREDIT.match(inner):
            return " "
        if _SOURCE_LABEL.match(inner):
            inner = "Theo " + _SOURCE_LABEL.sub("", inner, count=1)
        for part in _SPLIT.split(inner):
            part = part.strip(_EDGE_JUNK)
            if not part:
                continue
            kind, value = _classify(part)
            if kind in ("agency", "source"):
                notes.append((kind, value))
        return " "

    for _ in range(3):  # nested parentheses, innermost first
        s2 = _PAREN.sub(repl, s)
        if s2 == s:
            break
        s = s2
    return re.sub(r"[()\s]+", " ", s), notes


def _classify(piece: str) -> tuple[str, str]:
    """One piece of a byline: ("name", "Văn Toản"), ("agency", "TTXVN"), ("source", …) …"""
    m = re.match(r"theo\s+(.+)$", piece, re.I)
    if m:
        origin = m.group(1).strip(_EDGE_JUNK)
        if not _is_agency(origin) and _is_name(origin, allow_single=False) and origin.split()[0].casefold() in _SURNAMES:
            return "name", _name_case(origin)  # "Theo Hồ Hương": a person's full name credits the writer
        if _is_agency(origin) or _is_name(origin, allow_single=True):
            return "source", _agency_text(origin)
        return "other", piece
    if _is_agency(piece):
        return "agency", _agency_text(piece)
    if piece.casefold() in _ANONYMOUS:
        return "anonymous", piece
    stripped = _LEADING_TITLES.sub("", piece).strip(_EDGE_JUNK)
    if not stripped:
        if _is_name(piece, allow_single=False):
            return "name", _name_case(piece)  # "Anh Hùng" is a name as well as a title
        return "title-only", piece
    if _is_name(stripped, allow_single=True):
        return "name", _name_case(stripped)
    return "other", piece


def _is_name(piece: str, *, allow_single: bool) -> bool:
    words = piece.split()
    if not (1 if allow_single else 2) <= len(words) <= MAX_NAME_WORDS:
        return False
    for w in words:
        if not w.isalpha() or len(w) > 10 or not w[0].isupper():
            return False
        if not (w[1:].islower() or w[1:].isupper() or len(w) == 1):
            return False
        if w.casefold() in _NOT_NAME_WORDS:
            return False
    return len(words) < 3 or words[0].casefold() in _SURNAMES


def _is_agency(piece: str) -> bool:
    p = piece.strip()
    if not p or len(p.split()) > 8:
        return False
    if p.casefold() in _KNOWN_AGENCIES or _DOMAIN.match(p):
        return True
    m = _AGENCY_PREFIX.match(p)
    if m and (p[m.end()].isupper() or p[m.end()].isdigit()):
        return True  # "Báo Biên phòng", not "Báo cáo …"
    # an all-capitals acronym with no vowel or with a digit: TTXVN, QĐND, BĐBP, QK7, VTV1
    compact = p.replace(" ", "")
    if (
        2 <= len(compact) <= 10
        and compact == compact.upper()
        and re.fullmatch(r"[^\W_]+\+?", compact)
        and any(c.isalpha() for c in compact)
    ):
        if compact.casefold() in _ANONYMOUS:
            return False
        folded = fold_accents(compact)
        return any(c.isdigit() for c in folded) or not (_VOWELS & set(folded))
    return False


def _is_office(piece: str) -> bool:
    """A title or unit after a name: "Viện trưởng Viện …", "Đồn Biên phòng Ka Long"."""
    return piece[:1].isupper() and _OFFICE.search(piece) is not None


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


def _agency_text(piece: str) -> str:
    return piece.replace(_PROTECTED_DASH, " - ").strip()


def _name_case(name: str) -> str:
    """Capitals to Vietnamese title case ("VĂN TOẢN" -> "Văn Toản"); mixed case as written."""
    if name != name.upper():
        return name
    return " ".join(w[:1] + w[1:].lower() for w in name.split())


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        item = unicodedata.normalize("NFC", item).strip(_EDGE_JUNK)
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            out.append(item)
    return out
