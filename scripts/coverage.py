#!/usr/bin/env python3
"""Re-read the whole plan and check that every named thing in it is catalogued or deliberately excluded.

Usage: python3 scripts/coverage.py [--quiet] [--no-additions] [--decisions FILE]      (from the repository root; CI runs it)

Reads
  geodata/plan/plan.txt                       the plan (cleaned and split into items by scripts/plan_items.py)
  geodata/projects.geojson                    the catalogue ...
  geodata/curation/part-additions.geojson     ... plus the additions not merged yet (if the file exists)
  geodata/coverage.toml                       aliases and deliberate exclusions, each with its reason
  geodata/liaoning-cities.geojson, liaoning-counties.geojson   place names (properties only)

How it reads the plan (deterministic: the same text always gives the same list)
  Every part, section and item text (responsibility brackets removed, whitespace dropped) is cut into clauses
  at 。；，：！？ and "——", each clause into pieces at 、/和 (list connectors) and at 的/为.  A *named item* is a
  piece that ends in one of SUFFIXES (机场, 港, 铁路, 高速公路, 通道, 抽水蓄能电站, 核电, 产业园, 基地, 实验室,
  中心, 平台, 示范区, 试验区, 保税区, 新区, 水库, 工程, 博物馆, 医院, 保护区, 国家公园, 古城, 博览会, 项目, …),
  cut after the last such suffix, with leading verbs (加快, 推进, 支持, …) removed and at least two characters
  before the suffix.  Three list forms give one item per member:
    "A、B、C等<descriptor><suffix>"  ->  A+descriptor+suffix, B+…, C+…  (a member that ends in a suffix of its
                                       own keeps its own name; "抚顺等X基地" inside a list becomes "抚顺X基地")
    "A至B、C至D<descriptor><suffix>" ->  the same for "X至Y" members of a list without 等
    (also "A—B—C" corridors, and short bare names: "辽河、浑河、太子河流域生态走廊" is three items)
    "<places>建设/创建/申报/打造/开展<object>"  ->  place+object for each place ("铁岭县、海城市建设国家农业
                                       现代化示范区" is two items); a place subject carries to later list members
  plus place-named members of a 等 list with no suffix ("沈阳五爱、鞍山海城西柳…等开展…"), bare places before
  a place-named item ("沈阳、抚顺跨境电子商务综合试验区" is two items), and "A和B<suffix>" read as one name when A
  has no suffix of its own ("国家肿瘤和心血管区域医疗中心").
  Items are de-duplicated per section (the plan item "四.(四).2", or the section / part for their own text).

How an item is decided, in this order (rule 2 counts a project only if its `sections` cite the item's section)
  1. alias       coverage.toml [[alias]] (section, text) -> project id
  2. catalogued  the item's name is the project's name_zh (or its bracketed or unbracketed part); or one of the
                 project's excerpts, where it stands in the section, covers the item's own words and the
                 project's name or named_place has the item's distinctive part: its place (list members and
                 place subjects) or else the name itself / a two-character piece outside GENERIC_WORDS (a
                 project citing the section with no excerpt from it is matched by containment of names only)
  3. excluded    listed in a coverage.toml [[exclude]] group (kind, reason, items = [[section, text], ...])
  4. missing     none of these: printed (with a hint if a project of the same name cites another section),
                 and the script exits 1
  Stale decisions (an alias or exclusion that names no item, an exclusion for an item that is catalogued, an
  alias to an unknown id) also make it exit 1, so the file stays an exact account of the plan.

Coverage = catalogued / (all named items - excluded).
"""
import contextlib
import io
import json
import re
import sys
import tomllib
from collections import Counter, OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEO = ROOT / "geodata"
ADDITIONS = GEO / "curation" / "part-additions.geojson"
DECISIONS = GEO / "coverage.toml"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import plan_items as PI  # noqa: E402  (tracked-change cleaning, line joining, items and brackets)

# --------------------------------------------------------------------------------------- patterns ---
SUFFIXES = [
    # transport
    "国际机场", "通用机场", "运输机场", "新机场", "机场", "跑道", "枢纽港", "母港", "陆港", "港区", "港",
    "铁路", "高铁", "城际", "客专", "高速公路", "高速", "通道", "大道", "地铁", "号线", "大环线", "走廊",
    # energy
    "抽水蓄能电站", "抽水蓄能", "电站", "核电", "易地改造升级", "输变电工程", "储气库群", "接收站", "输油管道", "电厂",
    # parks and bases
    "产业园", "科技园", "研发园", "示范园", "园区", "基地", "产业带", "示范带", "旅游带", "集群",
    "汽车城", "科技城", "科学城", "海洋牧场",
    # science and platforms
    "实验室", "分中心", "中心", "研究院", "平台", "装置", "基础设施", "节点", "大市场", "交易所",
    # zones
    "示范区", "试验区", "先行区", "合作区", "协同区", "贸易区", "经济区", "新区", "开发区", "创新区",
    "功能区", "保税区", "片区", "自贸区", "示范市", "示范县", "样板区", "集聚区", "引领区", "先导区", "协作区",
    # water
    "水库", "灌区", "工程", "水网",
    # culture and heritage
    "博物馆", "文化馆", "军事馆", "场馆", "遗址", "古城", "老街", "街区", "金融街", "城区", "名城",
    # education
    "大学",
    # health
    "医院", "医疗中心", "医联体", "医疗联合体",
    # ecology
    "保护区", "国家公园", "森林公园", "湿地", "储备林", "保护修复", "综合整治",
    # events (listed so that they are seen and excluded, not silently skipped)
    "博览会", "洽谈会", "展览会", "交易会", "论坛", "大赛", "大会", "展会", "文化节", "旅游节",
    # designations of cities
    "创新型城市", "中心城市", "示范城市", "智慧城市", "城市群", "”城市",
    # generic project words
    "综合改革试验", "发展轴", "项目", "试点", "枢纽", "交易市场", "专业市场", "二级市场",
]
SUFFIXES = sorted(set(SUFFIXES), key=len, reverse=True)
# A suffix followed by one of these is part of a longer ordinary word, not the end of a name.
CONTINUATIONS = {
    "港": ("口", "航", "产", "澳", "城"),
    "工程": ("装备", "师", "技术", "与"),
    "平台": ("制造",),
    "枢纽": ("经济", "网络", "功能", "地位"),
    "铁路": ("干线",),
    "城区": ("间",),
    "集群": ("规模",),
    "中心": ("城市",),
}
# Names that are complete in themselves although nothing stands before the suffix.
SELF_NAMING = {"自贸区", "新机场", "保税区"}

LEAD_VERBS = sorted(set("""
高起点规划创建 高水平建设 高标准建设 加快推进 加快建设 加快发展 推动建设 重点建设 重点推进 重点发展 开工建设 谋划推进
积极推进 积极发展 大力发展 大力推进 着力打造 着力提升 聚力打造 有序推进 持续推进 深入推进 全力推进 协同创建 协同推动
协同建设 协同发展 共同争取 合作共建 改造提升 做大做强 做强做大 做优做大 做强做优 做优做强 巩固提升 优先布局 培育壮大
培育建设 培育发展 培育创建 发展壮大 发展建设 继续实施 统筹推进 创新构建 加快 推进 推动 建设 打造 支持 创建 争取 争创
实施 开展 建成 依托 发挥 完善 提升 培育 壮大 发展 加强 强化 深化 共建 启动 布局 设立 搭建 构建 构筑 形成 成立 组建
落实 联合 优化 引进 鼓励 促进 围绕 唱好 办好 做强 做大 做精 做优 建立 健全 探索 推出 谋划 拓展 提高 增强 保障
对标 进入 充分利用 充分发挥 运营 力争 举办 切实保障 明确 科学定位 定位 引导 协同共建 不断提高 不断 畅通 补齐 抓好
统筹 实现 开发 利用 承接 巩固 打通 开辟 提供 聚焦 搭建 完善 加大 加速 扎实 更好 全面 积极 大力 着力 进一步 继续 有序
科学 合理 高水平 高质量 率先 重点 一批 各类 以 将 在 把 从 与 及 并 等 省部共建
""".split()), key=len, reverse=True)
SV_VERBS = ["合作共建", "建设", "创建", "申报", "打造", "开展", "举办", "参与"]   # "<subject><verb><object>"
SV_PREFIXING = {"建设", "创建", "申报", "打造", "开展"}       # the place subject qualifies the object

GENERIC_WORDS = sorted(set("""
国家级 省级 国家 全国 中国 辽宁 省 国际 区域性 区域 重点 现代化 现代 一批 新一代 高端 综合 产业 示范 创新 技术 科技 发展
建设 东北 沿海 新型 大型 重大 特色 绿色 一体化 高质量 先进 世界级 千亿级 百亿级 亿级 重要 专业化 标准化 共性 研发 协同
文化 历史 世界 金融
""".split()), key=len, reverse=True)


def die(msg):
    sys.stderr.write("coverage: " + msg + "\n")
    sys.exit(2)


def norm(s):
    return re.sub(r"[\s“”\"]", "", s or "")


# ---------------------------------------------------------------------------------------- places ---
def place_names():
    names = set()
    for f in ("liaoning-cities.geojson", "liaoning-counties.geojson"):
        for ft in json.loads((GEO / f).read_text(encoding="utf-8"))["features"]:
            n = ft["properties"]["name_zh"]
            for suf in ("满族蒙古族自治县", "蒙古族自治县", "满族自治县", "喀喇沁左翼蒙古族自治县",
                        "自治县", "市", "县", "区"):
                if n.endswith(suf) and len(n) > len(suf) + 1:
                    n = n[: -len(suf)]
                    break
            names.add(n)
    names |= {"喀左", "沈抚示范区", "沈抚"}
    names.discard("和平")  # "和平金融街" is a name, not a subject
    return names


PLACES = place_names()
PLACE_RE = re.compile(r"(?:%s)(?:市|县|区)?" % "|".join(sorted(map(re.escape, PLACES), key=len, reverse=True)))


def is_place(s):
    return bool(s) and PLACE_RE.fullmatch(s) is not None


def leading_place(s):
    m = PLACE_RE.match(s)
    return m.group(0) if m else None


# ------------------------------------------------------------------------------------ extraction ---
# Text pieces carry their offset in the section text (whitespace removed), so that an item can be
# compared with the place of a project's excerpt in the same section.
def trim_lead(t, off):
    changed = True
    while changed and t:
        changed = False
        for v in LEAD_VERBS:
            if t.startswith(v) and len(t) > len(v):
                t, off = t[len(v):], off + len(v)
                changed = True
                break
    return t, off


def tl(t):
    return trim_lead(t, 0)[0]


def suffix_ending(text, j):
    """The longest suffix ending at text[:j], unless text[j:] continues it into an ordinary word."""
    head = text[:j]
    for suf in SUFFIXES:
        if head.endswith(suf):
            if any(text[j:].startswith(c) for c in CONTINUATIONS.get(suf, ())):
                return None
            return suf
    return None


def name_end(piece):
    """(name, suffix) for the last suffix ending in piece with two characters before it, or None."""
    best = None
    for j in range(1, len(piece) + 1):
        suf = suffix_ending(piece, j)
        if suf and (j - len(suf) >= 2 or piece[:j] in SELF_NAMING):
            best = (piece[:j], suf)
    return best


def split_pieces(clause, off):
    """[(text, offset, joined)]: pieces at 、/和/以及 (joined=True: list connector) and 的/为 (False)."""
    raw, cur, cur_off, i = [], "", off, 0
    while i < len(clause):
        ch = clause[i]
        prev = clause[i - 1] if i else ""
        nxt = clause[i + 1] if i + 1 < len(clause) else ""
        conn = None
        if clause.startswith("以及", i):
            conn, width = "以及", 2
        elif ch == "、":
            conn, width = "、", 1
        elif ch == "和" and nxt != "平" and prev != "中":
            conn, width = "和", 1
        elif (ch == "的" and prev != "目") or (ch == "为" and prev not in "作行"):
            conn, width = "hard", 1
        if conn:
            raw.append([cur, cur_off, conn])
            cur, cur_off = "", off + i + width
            i += width
            continue
        cur += ch
        i += 1
    raw.append([cur, cur_off, "hard"])
    # "A和B<suffix>" where A has no suffix of its own and is no place: one name ("国家肿瘤和心血管区域医疗中心",
    # "盘锦东北粮食集散和精深加工基地")
    out = []
    for piece in raw:
        if out and out[-1][2] == "和" and not name_end(tl(out[-1][0])) and not is_place(tl(out[-1][0])) \
                and name_end(tl(piece[0])):
            out[-1] = [out[-1][0] + "和" + piece[0], out[-1][1], piece[2]]
        else:
            out.append(piece)
    return [(t, o, conn != "hard") for t, o, conn in out if t]


class Hit:
    __slots__ = ("section", "name", "surface", "start", "keys", "suffix")

    def __init__(self, section, name, surface, start, keys, suffix):
        self.section, self.name, self.surface, self.start = section, name, surface, start
        self.keys, self.suffix = keys, suffix


def sv_split(t, off):
    """"<subject><verb><object>": ((subject, off), verb, (object, off)) if the object is a name, else None."""
    t, off = trim_lead(t, off)
    for v in SV_VERBS:
        k = t.find(v, 1)
        if k <= 0:
            continue
        obj, ooff = trim_lead(t[k + len(v):], off + k + len(v))
        if name_end(obj):
            return (t[:k], off), v, (obj, ooff)
    return None


def descriptor_after_deng(t):
    """"X等<descriptor><suffix>…" -> (X, descriptor name, suffix), or None."""
    k = t.rfind("等")
    if k < 0:
        return None
    rest = re.sub(r"^(不少于)?\d*个", "", t[k + 1:])
    rest = re.sub(r"^(?:一批|相关|重点(?=项目|工程))", "", rest)
    for v in SV_VERBS:
        at = rest.find(v, 1)
        if at > 0 and name_end(tl(rest[at + len(v):])):
            return None  # "…等优势领域培育创建X": not a list of named things
    got = None
    for j in range(1, len(rest) + 1):  # the last suffix ending: "抽水蓄能电站", "湿地保护项目"
        suf = suffix_ending(rest, j)
        if suf:
            got = (t[:k], rest[:j], suf)
    return got


def place_keys(surface):
    """What a project's name must contain to be this list member: the member without its leading place
    ("本溪太子河" -> "太子河"), or the place alone ("丹东" + 机场)."""
    lp = leading_place(surface)
    if not lp:
        return [surface]
    rest = surface[len(lp):]
    return [rest] if len(rest) >= 2 else [lp]


def extract(section, text):
    hits = []

    def add(name, surface, start, keys, suffix):
        if len(name) - len(suffix) >= 2 or name in SELF_NAMING:
            hits.append(Hit(section, name, surface, start, keys, suffix))

    pos = 0
    for clause in re.split(r"([。；，：！？]|——)", text):
        c_off, pos = pos, pos + len(clause)
        if not clause or re.fullmatch(r"[。；，：！？]|——", clause):
            continue
        runs, run = [], []
        for t, o, joined in split_pieces(clause, c_off):
            run.append((t, o))
            if not joined:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
        for run in runs:
            rest = run
            # the rightmost "等<descriptor><suffix>" member claims every member to its left
            for i in range(len(run) - 1, -1, -1):
                t, o = trim_lead(*run[i])
                d = descriptor_after_deng(t)
                if not (d and d[0] and name_end(t)):
                    continue
                head, desc, dsuf = d
                subj = None
                for mt, mo in run[:i] + [(head, o)]:
                    sv = sv_split(mt, mo)
                    if sv and is_place(tl(sv[0][0])) and sv[1] in SV_PREFIXING:
                        subj = tl(sv[0][0])
                        mt, mo = sv[2]
                    mt, mo = trim_lead(mt, mo)
                    inner = descriptor_after_deng(mt)
                    if inner and inner[0]:     # "抚顺等大宗…示范基地" inside a list: "抚顺大宗…示范基地"
                        mt = inner[0] + inner[1]
                    own = name_end(mt)
                    if own:                    # the member names itself ("京哈高速公路盘锦至沈阳段改扩建")
                        add(mt, mt, mo, None, own[1])
                    elif subj and not leading_place(mt):
                        add(subj + mt + desc, mt, mo, [subj], dsuf)
                    else:
                        add(mt + desc, mt, mo, place_keys(mt), dsuf)
                rest = run[i + 1:]
                break
            # "A至B、C至D<descriptor><suffix>" (also "A—B—C") without 等: the last member's descriptor is
            # what follows the end of the first member's last place ("锦州至盘锦、营口至盘锦输油管道")
            # and short bare names ("辽河、浑河、太子河流域生态走廊": the tail follows the last "河")
            corridor = all(("至" in tl(t) or "—" in tl(t)) for t, _ in rest)
            short = len(rest) > 1 and all(len(tl(t)) <= 3 and not is_place(tl(t)) for t, _ in rest[:-1]) \
                and not sv_split(*rest[-1])
            if len(rest) > 1 and (corridor or short):
                last, lo = trim_lead(*rest[-1])
                ne = name_end(last)
                first = tl(rest[0][0])
                anchor = first[-2:] if corridor else first[-1:]
                k = last.rfind(anchor, 0, len(ne[0]) if ne else 0)
                if ne and not any(name_end(tl(t)) for t, _ in rest[:-1]) and k > 0 \
                        and len(ne[0]) - k - len(anchor) >= len(ne[1]):
                    tail = ne[0][k + len(anchor):]
                    for t, o in rest[:-1]:
                        t, o = trim_lead(t, o)
                        add(t + tail, t, o, None, ne[1])
                    add(ne[0], ne[0], lo, None, ne[1])
                    continue
            # plain pieces.  "<places>建设<object>": one item per place; a place subject also qualifies later
            # members of the run that have none ("支持阜新创建A示范市、B示范市").  Bare places before a
            # place-named item share its name ("沈阳、抚顺跨境电子商务综合试验区").
            pending, carry = [], []
            for t, o in rest:
                sv = sv_split(t, o)
                if sv:
                    (st, so), v, (ot, oo) = sv
                    st, so = trim_lead(st, so)
                    ne = name_end(ot)
                    if is_place(st):
                        if v in SV_PREFIXING:
                            for sj in pending + [st]:
                                add(sj + ne[0], ne[0], oo, [sj], ne[1])
                            carry = pending + [st]
                        else:
                            add(ne[0], ne[0], oo, None, ne[1])
                            carry = []
                    else:
                        own = name_end(st)
                        if own:
                            add(own[0], own[0], so, None, own[1])
                        add(ne[0], ne[0], oo, None, ne[1])
                        carry = []
                    pending = []
                    continue
                t, o = trim_lead(t, o)
                if is_place(t):
                    pending.append(t)
                    continue
                ne = name_end(t)
                if ne:
                    lp = leading_place(ne[0])
                    if pending and lp:
                        for sj in pending:
                            add(sj + ne[0][len(lp):], ne[0][len(lp):], o + len(lp), [sj], ne[1])
                        add(ne[0], ne[0], o, [lp], ne[1])
                    elif carry and not lp:
                        for sj in carry:
                            add(sj + ne[0], ne[0], o, [sj], ne[1])
                    else:
                        add(ne[0], ne[0], o, None, ne[1])
                        carry = []
                pending = []
        # place-named members of a 等 list without a suffix: "沈阳五爱、鞍山海城西柳、辽阳佟二堡和小北河等开展…"
        for run in runs:
            at = [i for i, (t, _) in enumerate(run) if "等" in t]
            if not at or at[-1] == 0:
                continue
            lt, lo = trim_lead(*run[at[-1]])
            k = lt.rfind("等")
            if descriptor_after_deng(lt) and name_end(lt):
                continue
            members = [trim_lead(*m) for m in run[:at[-1]]] + [(lt[:k], lo)]
            named = [(t, o) for t, o in members
                     if leading_place(t) and len(t) - len(leading_place(t)) >= 2 and not name_end(t)]
            if len(named) >= 2:
                for t, o in named:
                    add(t, t, o, place_keys(t), "")
    # de-duplicate by name within the section, first occurrence kept
    seen, out = set(), []
    for h in hits:
        h.name = norm(h.name)
        if h.name and h.name not in seen:
            seen.add(h.name)
            out.append(h)
    return out


def plan_nodes():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = PI.main(["plan_items", str(GEO / "plan" / "plan.txt")])
    if rc:
        die("plan_items failed:\n" + err.getvalue())
    return json.loads(out.getvalue())


def all_hits(nodes):
    """section -> (plan node, section text without whitespace and brackets, [Hit])"""
    by_section = OrderedDict()
    for node in nodes:
        text = re.sub(r"\s+", "", PI.BRACKET_RE.sub("", node["text"]))
        if node["level"] != "item" and node["title"]:
            text = re.sub(r"\s+", "", node["title"]) + "。" + text
        by_section[node["section"]] = (node, text, extract(node["section"], text))
    return by_section


# ------------------------------------------------------------------------------------- catalogue ---
def load_catalogue(with_additions=True):
    files = [GEO / "projects.geojson"]
    if with_additions and ADDITIONS.exists():
        files.append(ADDITIONS)
    projects = OrderedDict()
    for f in files:
        for ft in json.loads(f.read_text(encoding="utf-8"))["features"]:
            p = ft["properties"]
            excerpts = [re.sub(r"\s+", "", x) for x in (p.get("excerpt") or "").split(" … ") if x.strip()]
            if p["id"] in projects:  # additions already merged into projects.geojson
                q = projects[p["id"]]
                q["sections"] = q["sections"] + [x for x in p["sections"] if x not in q["sections"]]
                q["excerpts"] += [x for x in excerpts if x not in q["excerpts"]]
                continue
            name = norm(p["name_zh"])
            bare = re.sub(r"（[^）]*）", "", name)
            variants = {name, bare} | set(re.findall(r"（([^）]*)）", name))
            projects[p["id"]] = {
                "id": p["id"], "name": name, "variants": {v for v in variants if len(v) >= 3},
                "label": "|".join([name, bare, norm(p.get("named_place") or "")]),
                "sections": list(p["sections"]), "excerpts": excerpts,
            }
    return projects


def core(name, suffix):
    s = name[: len(name) - len(suffix)] if suffix and name.endswith(suffix) else name
    for w in GENERIC_WORDS:
        s = s.replace(w, "|")
    return [frag for frag in re.split(r"[|（）()·—\-0-9]+", s) if len(frag) >= 2]


def bigrams(frags):
    return {f[i:i + 2] for f in frags for i in range(len(f) - 1)}


def covered(hit, p, text):
    """Does one of p's excerpts, where it stands in the section text, cover the item's own words?"""
    a, b = hit.start, hit.start + len(hit.surface)
    for x in p["excerpts"]:
        i = text.find(x)
        while i >= 0:
            if i <= a and b <= i + len(x):
                return True
            i = text.find(x, i + 1)
    return False


def match(hit, text, projects):
    """Ids of the projects citing the item's section that name it (rules in the module docstring)."""
    n = hit.name
    cite = [p for p in projects.values() if hit.section in p["sections"]]
    exact = [p["id"] for p in cite if n in p["variants"]]
    if exact:
        return exact
    out = []
    for p in cite:
        label = p["label"]
        contains = (len(n) >= 3 and n in p["name"]) or any(len(v) >= 4 and v in n for v in p["variants"])
        if not any(x in text for x in p["excerpts"]):
            # the project cites the section but none of its excerpts is from it: judged by its name alone
            # (for a place-qualified item: the place, and the rest of the item inside the project's name)
            if contains or (hit.keys and any(norm(k) in label and len(n.replace(norm(k), "", 1)) >= 3
                                             and n.replace(norm(k), "", 1) in p["name"] for k in hit.keys)):
                out.append(p["id"])
            continue
        if not covered(hit, p, text):
            continue
        if hit.keys:
            if any(norm(k) in label or re.sub(r"[市县区]$", "", norm(k)) in label for k in hit.keys):
                out.append(p["id"])
        elif contains or bigrams(core(n, hit.suffix)) & bigrams(label.split("|")):
            out.append(p["id"])
    return out


def same_name_elsewhere(hit, projects):
    return [p["id"] for p in projects.values() if hit.name in p["variants"] and hit.section not in p["sections"]]


# ------------------------------------------------------------------------------------- decisions ---
def load_decisions():
    if not DECISIONS.exists():
        return [], []
    d = tomllib.loads(DECISIONS.read_text(encoding="utf-8"))
    aliases = d.get("alias", [])
    excludes = []
    for g in d.get("exclude", []):
        for sec, text in g["items"]:
            excludes.append({"section": sec, "text": norm(text), "kind": g["kind"], "reason": g["reason"]})
    return aliases, excludes


def main(argv):
    global DECISIONS
    argv = list(argv)
    if "--decisions" in argv:
        # Another decisions file (the tests use a copy with one exclusion removed).
        i = argv.index("--decisions")
        if i + 1 >= len(argv):
            sys.stderr.write(__doc__)
            return 2
        DECISIONS = Path(argv[i + 1])
        del argv[i:i + 2]
    quiet = "--quiet" in argv
    with_additions = "--no-additions" not in argv
    unknown = [a for a in argv if a not in ("--quiet", "--no-additions")]
    if unknown:
        sys.stderr.write(__doc__)
        return 2
    nodes = plan_nodes()
    by_section = all_hits(nodes)
    projects = load_catalogue(with_additions)
    aliases, excludes = load_decisions()
    alias_by = {}
    problems = []
    for a in aliases:
        key = (a["section"], norm(a["text"]))
        if key in alias_by:
            problems.append("duplicate alias %s %s" % key)
        if a["id"] not in projects:
            problems.append("alias %s %s -> unknown project id %s" % (key[0], key[1], a["id"]))
        alias_by[key] = a
    excl_by = {}
    for e in excludes:
        key = (e["section"], e["text"])
        if key in excl_by:
            problems.append("excluded twice: %s %s" % key)
        excl_by[key] = e
    used_alias, used_excl = set(), set()

    total = catalogued = excluded = 0
    missing = []
    kinds = Counter()
    for section, (node, text, hits) in by_section.items():
        lines = []
        for h in hits:
            key = (section, h.name)
            total += 1
            if key in alias_by:
                used_alias.add(key)
                ids = [alias_by[key]["id"]]
                how = "alias"
            else:
                ids = match(h, text, projects)
                how = "name"
            if key in excl_by and ids:
                used_excl.add(key)
                problems.append("%s %s is excluded but catalogued as %s: drop the exclusion"
                                % (section, h.name, ", ".join(ids)))
            if ids:
                catalogued += 1
                lines.append("  ok       %s -> %s%s" % (h.name, ", ".join(ids), " (alias)" if how == "alias" else ""))
            elif key in excl_by:
                used_excl.add(key)
                excluded += 1
                kinds[excl_by[key]["kind"]] += 1
                lines.append("  excluded %s  [%s]" % (h.name, excl_by[key]["kind"]))
            else:
                hint = same_name_elsewhere(h, projects)
                hint = " (same name as %s, which does not cite %s)" % (", ".join(hint), section) if hint else ""
                missing.append((section, h.name, hint))
                lines.append("  MISSING  %s%s" % (h.name, hint))
        if lines and not quiet:
            title = node["title"] or ""
            print("%s %s" % (section, title[:30]))
            print("\n".join(lines))

    hit_keys = {(s, h.name) for s, (_, _, hs) in by_section.items() for h in hs}
    for key in alias_by:
        if key not in hit_keys:
            problems.append("stale alias (no such item in the plan): %s %s" % key)
    for key in excl_by:
        if key not in hit_keys:
            problems.append("stale exclusion (no such item in the plan): %s %s" % key)

    denom = total - excluded
    if not quiet:
        print()
    print("named items: %d; catalogued %d, excluded %d (%s), missing %d" % (
        total, catalogued, excluded, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), len(missing)))
    print("coverage: %d/%d = %.1f%% (catalogued / named items not excluded)%s" % (
        catalogued, denom, 100.0 * catalogued / denom if denom else 100.0,
        "" if with_additions else " [without part-additions.geojson]"))
    if missing:
        print("MISSING (neither catalogued nor excluded in geodata/coverage.toml):")
        for s, n, hint in missing:
            print("  %s  %s%s" % (s, n, hint))
    if problems:
        print("PROBLEMS in geodata/coverage.toml:")
        for p in problems:
            print("  " + p)
    return 1 if missing or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
