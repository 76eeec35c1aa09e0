#!/usr/bin/env python3
"""Parse the Liaoning "一圈一带两区" three-year action plan text into JSON.

Usage: python3 scripts/plan_items.py PLAN.txt > geodata/plan-items.json

Output: a JSON array, in document order, of every part (一、…), section
（一）… and numbered item 1. 2. … Each record:

  section      id: "四" (part), "四.(四)" (section), "四.(四).2" (item)
  level        "part" | "section" | "item"
  parent       id of the enclosing part/section (null for parts)
  title        heading text without numbering and trailing "。"
  text         the node's own text, hard line breaks joined, tracked-change
               artifacts removed. For items: everything after "N." (title
               sentence, body, responsibility bracket(s)). For parts and
               sections: the heading's own intro/body text (children excluded;
               "" if there is none).
  body         text without the title sentence and without the brackets
  lead_unit    first unit of the (first) （责任单位：…） bracket, or null
  co_units     the other units of that bracket, in order
  responsibilities  every bracket in the node's own text (some items have
               several sub-paragraphs, each with its own bracket):
               [{"applies_to", "raw", "lead_unit", "co_units"}]

Diagnostics (brackets that could not be parsed, numbering gaps) go to stderr.
"""
import json
import re
import sys

CN_NUM = "一二三四五六七八九十"

# Tracked-change artifacts: "<deleted text>删除[董柏]:". The deleted text runs
# from the start of the line (or the last whitespace before the marker) up to
# the marker, e.g. "以上删除[董柏]:", "一批删除[董柏]:", "打造删除[董柏]:",
# "用材 林业经济林标准化示范园、特色经济林、删除[董柏]:".
ARTIFACT_RE = re.compile(r"(?:^|\s)[^\s]*?删除\[[^\]]*\][:：]")

PART_RE = re.compile(r"^([一二三四五六七八九十]+)、(.*)$")
SECTION_RE = re.compile(r"^（([一二三四五六七八九十]+)）(.*)$")
ITEM_RE = re.compile(r"^(\d+)\.(?!\d)(.*)$")
# The bracket may be broken across lines and by stray spaces ("（责 任单位").
BRACKET_RE = re.compile(r"（\s*责\s*任\s*单\s*位\s*[：:](.*?)）", re.S)
BRACKET_START_RE = re.compile(r"（\s*责\s*任\s*单\s*位")


def cn_to_int(s):
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + CN_NUM.index(s[1]) + 1
    if s.endswith("十"):
        return (CN_NUM.index(s[0]) + 1) * 10
    if "十" in s:
        a, b = s.split("十")
        return (CN_NUM.index(a) + 1) * 10 + CN_NUM.index(b) + 1
    return CN_NUM.index(s) + 1


def clean_line(line):
    line = ARTIFACT_RE.sub("", line)
    return line.strip()


def expand_group(group):
    """Split one comma-group on "、" and distribute a shared suffix.

    "沈阳、抚顺市政府"        -> ["沈阳市政府", "抚顺市政府"]
    "沈阳、大连等相关市政府"  -> ["沈阳市政府", "大连市政府", "相关市政府"]
    "相关市、县政府"          -> ["相关市、县政府"] (one unit: city and county govts)
    """
    group = group.strip()
    if not group:
        return []
    if re.fullmatch(r"(相关|各)市、县政府", group):
        return [group]
    parts = [p.strip() for p in group.split("、") if p.strip()]
    # "X等相关市政府" at the end: the named cities plus "相关市政府".
    tail_extra = []
    last = parts[-1]
    m = re.fullmatch(r"(.+?)等(相关|有关|各)(市政府|市、县政府)", last)
    if m:
        parts[-1] = m.group(1) + m.group(3)
        tail_extra = [m.group(2) + m.group(3)]
    last = parts[-1]
    m = re.search(r"(市政府|市人民政府|县政府|区政府)$", last)
    if m and len(parts) > 1:
        suffix = m.group(1)
        out = []
        for p in parts[:-1]:
            p = re.sub(r"等$", "", p)
            # bare place names (no administrative suffix) share the suffix
            if not re.search(r"(政府|厅|委|局|区|集团|办|院|会|中心)$", p) and not p.startswith("省"):
                out.append(p + suffix)
            else:
                out.append(p)
        out.append(last)
        parts = out
    parts = [re.sub(r"等$", "", p).strip() for p in parts]
    return [p for p in parts if p] + tail_extra


def parse_units(raw):
    flat = re.sub(r"\s+", "", raw)
    units = []
    for group in flat.split("，"):
        units.extend(expand_group(group))
    # de-duplicate, keep order
    seen, out = set(), []
    for u in units:
        if u not in seen:
            seen.add(u)
            out.append(u)
    return out


def first_sentence(s):
    s = s.strip()
    i = s.find("。")
    return s[: i] if i >= 0 else s


def analyse_brackets(text, node_id, problems):
    resps = []
    prev_end = 0
    for m in BRACKET_RE.finditer(text):
        units = parse_units(m.group(1))
        seg = text[prev_end: m.start()]
        resps.append({
            "applies_to": first_sentence(seg),
            "raw": re.sub(r"\s+", "", m.group(0)),
            "lead_unit": units[0] if units else None,
            "co_units": units[1:],
        })
        if not units:
            problems.append("%s: empty bracket %r" % (node_id, m.group(0)))
        prev_end = m.end()
    n_start = len(BRACKET_START_RE.findall(text))
    if n_start != len(resps):
        problems.append("%s: %d bracket openings but %d parsed brackets"
                        % (node_id, n_start, len(resps)))
    return resps


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as fh:
        raw_lines = fh.read().splitlines()

    nodes = []          # in document order
    cur = None          # node receiving text lines
    part = section = None
    expect_part = 1
    expect_item = 1
    problems = []

    for raw in raw_lines:
        line = clean_line(raw)
        if not line:
            continue
        m = PART_RE.match(line)
        if m and cn_to_int(m.group(1)) == expect_part:
            expect_part += 1
            part = {"section": m.group(1), "level": "part", "parent": None,
                    "title": m.group(2).strip().rstrip("。"), "_lines": [], "_num": m.group(1)}
            nodes.append(part)
            cur, section = part, None
            continue
        m = SECTION_RE.match(line)
        if m and part is not None:
            n = cn_to_int(m.group(1))
            want = 1 if section is None else cn_to_int(section["_num"]) + 1
            if n == want:
                section = {"section": "%s.(%s)" % (part["_num"], m.group(1)),
                           "level": "section", "parent": part["section"],
                           "title": m.group(2).strip().rstrip("。"), "_lines": [],
                           "_num": m.group(1)}
                nodes.append(section)
                cur = section
                expect_item = 1
                continue
        m = ITEM_RE.match(line)
        if m and section is not None:
            n = int(m.group(1))
            if n == expect_item:
                expect_item += 1
                item = {"section": "%s.%d" % (section["section"], n), "level": "item",
                        "parent": section["section"], "title": None,
                        "_lines": [m.group(2)]}
                nodes.append(item)
                cur = item
                continue
            problems.append("line %r looks like item %d but %d expected" % (line[:20], n, expect_item))
        if cur is None:
            continue  # document title / preamble
        cur["_lines"].append(line)

    out = []
    for node in nodes:
        text = "".join(node.pop("_lines"))
        # drop stray whitespace inside responsibility brackets ("（责 任单位")
        text = BRACKET_RE.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)
        node.pop("_num", None)
        if node["level"] == "item":
            node["title"] = first_sentence(text)
            body = text[len(node["title"]) + 1:] if "。" in text else ""
        else:
            body = text
        resps = analyse_brackets(text, node["section"], problems)
        body = BRACKET_RE.sub("", body).strip()
        rec = {
            "section": node["section"],
            "level": node["level"],
            "parent": node["parent"],
            "title": node["title"],
            "text": text,
            "body": body,
            "lead_unit": resps[0]["lead_unit"] if resps else None,
            "co_units": resps[0]["co_units"] if resps else [],
            "responsibilities": resps,
        }
        out.append(rec)

    # items/sections with text but no bracket are worth a note (parts 一 and 八
    # and section intros legitimately have none)
    for rec in out:
        if rec["level"] == "item" and not rec["responsibilities"]:
            problems.append("%s: item without responsibility bracket" % rec["section"])

    json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    for p in problems:
        sys.stderr.write("plan_items: %s\n" % p)
    counts = {}
    for rec in out:
        counts[rec["level"]] = counts.get(rec["level"], 0) + 1
    nb = sum(len(r["responsibilities"]) for r in out)
    sys.stderr.write("plan_items: %s, %d brackets\n"
                     % (", ".join("%d %ss" % (v, k) for k, v in counts.items()), nb))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
