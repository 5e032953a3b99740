"""The whole archive, open: exports (WARC, JSONL, CSV) and WARC import.

``records``  one article as a flat dict (the JSONL line, the CSV row, the WARC metadata)
``walk``     the archive in keyset pages, so memory stays flat in its size
``tables``   JSONL and CSV writers
``warc``     the WARC/1.1 writer (warcio): a response and a metadata record per article
``warcin``   reading a WARC (ours or another crawler's) back through the extraction path
"""
