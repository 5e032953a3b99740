"""The page's one stylesheet and the security headers that allow exactly it.

No script, ever: the Content-Security-Policy allows the inline stylesheet by
its hash, and images over http(s) only (the article thumbnails, loaded from
the sites themselves, with no referrer).  Layout: one column up to 62rem; the
filter form wraps field by field (each label stays with its control); below
40rem the sources table turns into one card per source.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["CSS", "CONTENT_SECURITY_POLICY", "SECURITY_HEADERS"]

CSS = """
:root{color-scheme:light dark;--fg:#1d2327;--muted:#5f6b73;--bg:#fbfaf7;--card:#fff;
--line:#e2e0da;--accent:#1f5f3a;--warn:#9a5b00;--bad:#a4262c;--mark:#fff1a8}
@media (prefers-color-scheme:dark){:root{--fg:#e7e5df;--muted:#a3aaa5;--bg:#17191a;
--card:#202324;--line:#34393a;--accent:#7fcf9b;--warn:#e5b55c;--bad:#ff8a8a;--mark:#5c4d00}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);line-height:1.5;overflow-wrap:anywhere;
font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif}
a{color:var(--accent)}
mark{background:var(--mark);color:inherit;padding:0 .1em;border-radius:.15em}
header,main,footer{max-width:62rem;margin:0 auto;padding:0 1rem}
header{padding-top:1.5rem}
h1{margin:0 0 .25rem;font-size:1.6rem}h1 a{color:inherit;text-decoration:none}
h2{font-size:1.2rem;margin:1.75rem 0 .75rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
.lead,.meta,.note,footer{color:var(--muted)}
.meta{font-size:.875rem;margin:0 0 .35rem}
.feeds{font-size:.9rem}
form{display:flex;flex-wrap:wrap;gap:.6rem .9rem;align-items:flex-end;margin:1.25rem 0;
padding:.75rem;background:var(--card);border:1px solid var(--line);border-radius:.5rem}
.field{display:flex;flex-direction:column;gap:.2rem;min-width:0;flex:1 1 9rem;max-width:100%}
.field label,.field summary{font-size:.85rem;color:var(--muted)}
.field.grow{flex:3 1 16rem}
.submit{flex:0 0 auto}
input,select,button{padding:.4rem .6rem;font:inherit;max-width:100%;min-width:0}
.sources{order:9;flex:1 1 100%;min-width:0;border:1px solid var(--line);border-radius:.3rem;
padding:.35rem .6rem}
.sources summary{cursor:pointer;font-size:.9rem}
.sources fieldset{display:flex;flex-wrap:wrap;gap:.2rem .9rem;margin:.4rem 0 .1rem;padding:0;border:0;
min-width:0}
.sources legend{font-size:.85rem;color:var(--muted);padding:0;margin-bottom:.2rem}
.sources label{font-size:.9rem;white-space:nowrap}
.submit{order:10}
.articles{list-style:none;margin:0;padding:0}
.articles li{background:var(--card);border:1px solid var(--line);border-radius:.5rem;
padding:.8rem 1rem;margin:0 0 .6rem}
.articles article{display:flex;gap:1rem;align-items:flex-start}
.articles .text{flex:1 1 auto;min-width:0}
.thumb{flex:0 0 auto;width:8rem;height:5.33rem;object-fit:cover;border-radius:.3rem;
background:var(--line)}
@media (max-width:30rem){.thumb{width:5.5rem;height:3.67rem}}
.summary{margin:.25rem 0 0}
.pager{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem;background:var(--card);overflow-wrap:break-word}
time{white-space:nowrap}
th,td{border:1px solid var(--line);padding:.4rem .5rem;text-align:left;vertical-align:top}
th{font-size:.85rem}th.num,td.num,td:last-child{white-space:nowrap}
td.num{text-align:right}
.why{display:block;font-size:.85rem;color:var(--muted);overflow-wrap:anywhere}
.ok{color:var(--accent)}.warn{color:var(--warn)}.bad{color:var(--bad)}
@media (max-width:40rem){table,tbody,tr,td{display:block;width:100%}thead{display:none}
tr{border:1px solid var(--line);border-radius:.5rem;margin:0 0 .6rem;padding:.3rem .5rem}
td,td.num{border:0;padding:.15rem 0;text-align:left}
td[data-label]::before{content:attr(data-label) ": ";color:var(--muted)}}
footer{font-size:.85rem;padding:1.5rem 1rem 2rem}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src http: https:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
