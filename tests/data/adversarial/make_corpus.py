#!/usr/bin/env python3
"""Writes corpus.tsv, the committed hostile-line corpus read by tests/adversarial.rs.

Each record: CODES <TAB> EVENTS <TAB> NAME <TAB> RAW-LINE, where CODES is the comma-separated
list of diagnostic codes the engine must report for the line, in order (`-`: none), EVENTS how
many events the line decodes to, and RAW-LINE the line byte for byte (invalid UTF-8, NUL, CR
and tabs included) up to the LF. `{{TS}}` in RAW-LINE is replaced at test time by the timestamp
of the good event just before it (an in-time time that does not move the watermark). Lines
starting with `#` are comments. Decodable lines use ids starting `adv-` and event types no
rule matches, so they cannot touch the good stream's windows. Regenerate with
`python3 tests/data/adversarial/make_corpus.py` (the bytes are in this script, escaped).
"""
import os

P = '"event_type":"adversarial_probe"'
cases = []


def c(codes, events, name, raw):
    if isinstance(raw, str):
        raw = raw.encode()
    assert b"\n" not in raw, name
    cases.append((codes, events, name, raw))


def ev(name, extra="", ts='"timestamp":"{{TS}}"'):
    body = f'"id":"adv-{name}",{P}'
    if ts:
        body += "," + ts
    if extra:
        body += "," + extra
    return "{" + body + "}"


# --- nesting (the 100 000-deep cases are generated at test time) ---
c("-", 1, "nested arrays 500 deep in an unknown field", ev("nest-field", '"x":' + "[" * 500 + "]" * 500))
c("-", 1, "nested objects 500 deep in an unknown field", ev("nest-obj", '"x":' + '{"a":' * 500 + "1" + "}" * 500))
c("wrong_field_type", 1, "geoip as 300-deep arrays", ev("nest-geoip", '"geoip":' + "[" * 300 + "]" * 300))
c("not_an_object", 0, "top-level arrays 300 deep: an array line whose one element is an array", "[" * 300 + "]" * 300)
c("invalid_json", 0, "unbalanced nesting", ev("unbalanced", '"x":[[[{"a":[}]]]'))
# --- invalid UTF-8 ---
c("invalid_utf8,missing_timestamp", 1, "lone continuation byte", b'{"id":"adv-u1","x":"\x80"}')
c("invalid_utf8,missing_timestamp", 1, "overlong encoding of '/' (C0 AF)", b'{"id":"adv-u2","x":"\xc0\xaf"}')
c("invalid_utf8,missing_timestamp", 1, "overlong 3-byte NUL (E0 80 80)", b'{"id":"adv-u3","x":"\xe0\x80\x80"}')
c("invalid_utf8,missing_timestamp", 1, "UTF-8-encoded surrogate U+D800 (ED A0 80)", b'{"id":"adv-u4","x":"\xed\xa0\x80"}')
c("invalid_utf8,invalid_json", 0, "truncated 3-byte sequence at the end of the line", b'{"id":"adv-u5","x":"\xe2\x82')
c("invalid_utf8,missing_timestamp", 1, "truncated 4-byte sequence inside a string", b'{"id":"adv-u6","x":"\xf0\x9f\x98"}')
c("invalid_utf8,invalid_json", 0, "bytes F5-FF never appear in UTF-8", b"\xf5\xfe\xff")
c("invalid_utf8,missing_timestamp", 1, "Latin-1 text", b'{"id":"adv-u7","x":"caf\xe9"}')
# --- NUL ---
c("invalid_json", 0, "raw NUL inside a string", b'{"id":"adv-n1","x":"a\x00b"}')
c("invalid_json", 0, "raw NUL outside a string", b'{"id":"adv-n2"\x00}')
c("invalid_json", 0, "NUL bytes only", b"\x00\x00\x00")
c("-", 1, "escaped \\u0000 in an unknown field", ev("n3", r'"x":"a\u0000b"'))
c("-", 1, "escaped \\u0000 in initiated_by.username", ev("n4", r'"initiated_by":{"username":"adv\u0000user"}'))
c("-", 1, "lone escaped surrogate \\ud800 in an unknown field (JSON grammar allows it; skipped unread)", ev("n5", r'"x":"\ud800"'))
c("-", 1, "lone escaped surrogates in decoded fields (event_type, username)",
  '{"id":"adv-n6","event_type":"\\ud800","initiated_by":{"username":"\\udc00x"},"timestamp":"{{TS}}"}')
# --- huge numbers ---
c("-", 1, "1e400 in an unknown field", ev("num1", '"x":1e400'))
c("-", 1, "300-digit integer in an unknown field", ev("num2", '"x":' + "9" * 300))
c("-", 1, "-0 and 1e-400 in unknown fields", ev("num3", '"x":-0,"y":1e-400'))
c("wrong_field_type", 1, "success as 1e400", ev("num4", '"success":1e400'))
c("wrong_field_type", 1, "mfa as a 300-digit integer", ev("num5", '"mfa":' + "1" * 300))
c("-", 1, "geoip latitude/longitude 1e400 and -1e400", ev("num6", '"geoip":{"country_code":"ZZ","latitude":1e400,"longitude":-1e400}'))
c("-", 1, "geoip latitude -0, longitude 1e-400", ev("num7", '"geoip":{"latitude":-0,"longitude":1e-400}'))
c("invalid_json", 0, "number with a leading zero", ev("num8", '"x":0123'))
c("invalid_json", 0, "NaN is not JSON", ev("num9", '"x":NaN'))
# --- duplicate keys: the last one wins (as serde_json's oracle decoder) ---
c("future_timestamp", 1, "two timestamps: the first in range, the last (which wins) in 2200",
  '{"id":"adv-dup1",' + P + ',"timestamp":"{{TS}}","timestamp":"2200-01-01T00:00:00Z"}')
c("-", 1, "two timestamps: 2200 first, the last (which wins) in time",
  '{"id":"adv-dup2",' + P + ',"timestamp":"2200-01-01T00:00:00Z","timestamp":"{{TS}}"}')
c("-", 1, "two event_types: a login type first, adversarial_probe last (wins: no rule)",
  '{"id":"adv-dup3","event_type":"user_login_attempt","success":false,"client_ip":"192.0.2.250","timestamp":"{{TS}}","event_type":"adversarial_probe"}')
c("-", 1, "two ids", '{"id":"adv-dup4a","id":"adv-dup4",' + P + ',"timestamp":"{{TS}}"}')
# --- known fields with the wrong type ---
for field, values in [
    ("event_type", ["7", "[]", "{}", "null", "true"]),
    ("timestamp", ["1714557600", "[\"{{TS}}\"]", "{}", "null", "false"]),
    ("success", ["1", "[true]", "{}", "\"true\""]),
    ("client_ip", ["3232235777", "[\"10.0.0.1\"]", "{}", "true"]),
    ("initiated_by", ["1", "[]", "\"admin\"", "true"]),
    ("geoip", ["1", "[]", "\"FR\"", "false"]),
    ("mfa", ["1", "[]", "{}", "\"yes\""]),
    ("service", ["1", "[]", "{}", "false"]),
    ("organization", ["1", "[]", "{}", "true"]),
    ("id", ["1", "[]", "{}", "true"]),
    ("resource", ["1", "[]", "\"x\""]),
    ("changes", ["1", "\"x\"", "{}"]),
]:
    for i, v in enumerate(values):
        name = f"wt-{field}-{i}"
        if field == "event_type":
            raw = '{"id":"adv-' + name + '","event_type":' + v + ',"timestamp":"{{TS}}"}'
        elif field == "timestamp":
            raw = '{"id":"adv-' + name + '",' + P + ',"timestamp":' + v + "}"
        elif field == "id":
            raw = '{"id":' + v + "," + P + ',"timestamp":"{{TS}}","adv":"' + name + '"}'
        else:
            raw = ev(name, f'"{field}":{v}')
        codes = "wrong_field_type"
        if field == "timestamp":
            codes += ",missing_timestamp"  # the field is ignored: the event has no time
        if (field, v) == ("timestamp", "null"):
            codes = "missing_timestamp"  # null is no value, not a wrong type
        elif (field, v) in [("event_type", "null"), ("success", "null"), ("mfa", "null"),
                          ("service", "null"), ("organization", "null"), ("id", "null")]:
            codes = "-"
        c(codes, 1, f"{field} as {v}", raw)
c("-", 1, "null in every known string field", ev("nulls", '"client_ip":null,"service":null,"organization":null,"success":null,"mfa":null,"geoip":null,"initiated_by":null'))
# --- timestamps ---
c("bad_timestamp", 1, "year 1 (out of range)", ev("ts-y1", ts='"timestamp":"0001-01-01T00:00:00Z"'))
c("bad_timestamp", 1, "year 9999 (out of range)", ev("ts-y9999", ts='"timestamp":"9999-12-31T23:59:59Z"'))
c("future_timestamp", 1, "year 2200 (in range, far ahead: skips the windows)", ev("ts-y2200", ts='"timestamp":"2200-01-01T00:00:00Z"'))
c("future_timestamp", 1, "offset -23:59 (valid, year 2200)", ev("ts-m2359", ts='"timestamp":"2200-06-01T00:00:00-23:59"'))
c("bad_timestamp", 1, "offset +24:00 (hours over 23)", ev("ts-p2400", ts='"timestamp":"2025-03-03T06:00:00+24:00"'))
c("bad_timestamp", 1, "offset +05:60", ev("ts-p0560", ts='"timestamp":"2025-03-03T06:00:00+05:60"'))
c("bad_timestamp", 1, "offset without colon +0530", ev("ts-p0530", ts='"timestamp":"2025-03-03T06:00:00+0530"'))
c("future_timestamp", 1, "leap second :60 (accepted, year 2200)", ev("ts-leap", ts='"timestamp":"2200-12-31T23:59:60Z"'))
c("bad_timestamp", 1, "second 61", ev("ts-s61", ts='"timestamp":"2025-03-03T06:00:61Z"'))
c("bad_timestamp", 1, "no zone", ev("ts-nozone", ts='"timestamp":"2025-03-03T06:00:00"'))
c("future_timestamp", 1, "lowercase t and z (RFC 3339 allows them; year 2200)", ev("ts-lower", ts='"timestamp":"2200-03-03t06:00:00.5z"'))
c("bad_timestamp", 1, "February 30", ev("ts-feb30", ts='"timestamp":"2025-02-30T06:00:00Z"'))
c("bad_timestamp", 1, "empty timestamp", ev("ts-empty", ts='"timestamp":""'))
c("bad_timestamp", 1, "fraction without digits", ev("ts-frac", ts='"timestamp":"2025-03-03T06:00:00.Z"'))
c("bad_timestamp", 1, "30 fraction digits and trailing text", ev("ts-long", ts='"timestamp":"2025-03-03T06:00:00.' + "1" * 30 + 'Z trailing"'))
c("missing_timestamp", 1, "no timestamp field", ev("ts-none", ts=""))
# --- client_ip that is not an ip (processed; the field is only text) ---
for i, ip in enumerate(["", "999.1.1.1", "::::", "10.0.0.1/24", "localhost", " 10.0.0.1 ", "1" * 5000, "fe80::1%eth0"]):
    c("-", 1, f"client_ip {ip[:20]!r}" + (" (5000 chars)" if len(ip) > 100 else ""), ev(f"ip{i}", f'"client_ip":"{ip}"'))
# --- framing: BOM, CRLF, whitespace, empty ---
c("-", 1, "BOM before a good object", b"\xef\xbb\xbf" + ev("bom").encode())
c("invalid_json", 0, "BOM before garbage", b"\xef\xbb\xbfgarbage")
c("invalid_json", 0, "two BOMs", b"\xef\xbb\xbf\xef\xbb\xbf" + ev("bom2").encode())
c("-", 1, "CRLF ending on a good object", ev("crlf").encode() + b"\r")
c("invalid_json", 0, "CRLF ending on garbage (the CR is kept in --errors)", b"{not json\r")
c("empty_line", 0, "empty line", b"")
c("empty_line", 0, "CR only", b"\r")
c("empty_line", 0, "spaces and tabs", b"   \t \t  ")
c("invalid_json", 0, "form feed and vertical tab are not JSON white space", b"\x0c\x0b")
c("invalid_json", 0, "two objects on one line", ev("two1") + ev("two2"))
c("invalid_json", 0, "truncated object", '{"id":"adv-trunc",' + P + ',"timestamp":"{{TS}}"')
c("invalid_json", 0, "trailing comma", ev("tc")[:-1] + ",}")
# --- not objects ---
c("not_an_object", 0, "a string", '"just a string"')
c("not_an_object", 0, "a number", "42")
c("not_an_object", 0, "null", "null")
c("-", 0, "empty array", "[]")
c("not_an_object,not_an_object,not_an_object", 2, "array with good and bad elements",
  "[" + ev("arr1") + ', 5, "x", ' + ev("arr2") + ", null]")
c("invalid_json", 0, "array with a broken element", "[" + ev("arr3") + ", {]")
c("not_an_object", 1, "array with an array element", "[[1,2], " + ev("arr4") + "]")
c("-", 1, "tab-indented object with a tab inside a string escape", "\t" + ev("tab", r'"x":"a\tb"'))

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "corpus.tsv"), "wb") as f:
    f.write(b"# Hostile lines for tests/adversarial.rs, written by make_corpus.py (see there).\n")
    f.write(b"# CODES<TAB>EVENTS<TAB>NAME<TAB>RAW-LINE (byte for byte; {{TS}}: previous good timestamp)\n")
    for codes, events, name, raw in cases:
        assert "\t" not in name and "\n" not in name
        f.write(f"{codes}\t{events}\t{name}\t".encode() + raw + b"\n")
print(len(cases), "cases")
