#!/usr/bin/env python3
"""Merge the curation part files (three helpers' parts and the additions) into geodata/projects.geojson.

Usage: python3 scripts/merge_projects.py            (from the repository root)

Reads
  geodata/curation/part-2-3.geojson, part-4.geojson, part-5-8.geojson  (helpers' output)
  geodata/curation/part-additions.geojson                              (items the helpers missed)
  geodata/plan/plan.txt, geodata/plan-items.json                        (the plan and its items)
  geodata/liaoning-counties.geojson, geodata/regions.toml               (boundaries, regions)
  geodata/targets.json                                                  (targets not tied to a project)
  geodata/seats.json                                                    (city and county seats)
Writes
  geodata/projects.geojson   FeatureCollection sorted by id, json indent=1, ensure_ascii=False
  geodata/targets.json       only to drop targets that now live in a project (idempotent)

Everything this script decides is written down below as data (MERGES, FEATURE_FIXES, ...), so a
reviewer can read the decisions and re-run the merge.  The script then re-derives and checks the
mechanical fields (sections order, lead/co units, county/city adcodes, excerpts, ids) and computes
`consistency_notes`.  It prints a summary and fails loudly if a check does not pass.

Location rule (the loader enforces the same at start-up; see LOCATION RULE below and geodata/README.md):
  site      needs `location_cite` (the URL or citable document that gives the position);
  district  needs `named_place` (the town/district/zone) and a `location_source` saying whose centre the point is;
  county    Point exactly on seats.json[county_adcode];  city  Point exactly on seats.json[city_adcode];
  no two Points share a coordinate (6 decimals) unless their place keys are equal: `place_id` if set, else
  `seat:<city_adcode>` (city), `seat:<county_adcode>` (county), else the project id.
"""
import json
import math
import re
import sys
import tomllib
from pathlib import Path

from shapely.geometry import Point, shape
from shapely.ops import unary_union

ROOT = Path(__file__).resolve().parent.parent
GEO = ROOT / "geodata"
PARTS = ["part-2-3.geojson", "part-4.geojson", "part-5-8.geojson", "part-additions.geojson"]

sys.path.insert(0, str(Path(__file__).resolve().parent))
import plan_items as PI  # noqa: E402  (same tracked-change cleaning and bracket parsing)

CATEGORIES = {
    "airport", "railway", "highway", "urban_rail", "port", "logistics", "energy", "water",
    "industrial_park", "science", "open_platform", "demonstration_zone", "agriculture", "tourism",
    "heritage", "culture", "health", "education", "ecology", "digital", "urban",
}
PRECISIONS = {"site", "district", "county", "city", "schematic"}
PROP_ORDER = [
    "id", "name_zh", "name_en", "category", "sections", "lead_unit", "co_units", "excerpt",
    "targets", "named_place", "county_adcode", "city_adcode", "location_precision",
    "location_source", "location_cite", "place_id", "outside_province", "consistency_notes",
]
SEP = " … "  # joins excerpt pieces of a merged feature; every piece is verbatim plan text

# --------------------------------------------------------------------------------------------
# 1. Merges: the same real thing named in several parts becomes one feature.
#    Each entry: resulting id, the (part, id) members, and which member supplies the geometry
#    and location fields ("geometry_from").  Sections are unioned (plan order), lead unit comes
#    from the first item, co-units are unioned, excerpts are joined with SEP, targets unioned.
# --------------------------------------------------------------------------------------------
MERGES = [
    {"id": "dalian-jinzhouwan-airport",
     "members": [("part-2-3.geojson", "dalian-jinzhouwan-airport"),
                 ("part-4.geojson", "dalian-jinzhouwan-international-airport")],
     "geometry_from": ("part-4.geojson", "dalian-jinzhouwan-international-airport"),
     "name_zh": "大连金州湾国际机场（大连新机场）",
     "name_en": "Dalian Jinzhouwan International Airport (new Dalian airport)",
     "why": "二.(二).1 “加快新机场建设” and 四.(四).1 “开工建设大连新机场” are the same new airport"},
    {"id": "xudabao-nuclear-power-plant",
     "members": [("part-4.geojson", "xudabao-nuclear-power-phase-2"),
                 ("part-5-8.geojson", "xudabao-nuclear-power-plant")],
     "geometry_from": ("part-5-8.geojson", "xudabao-nuclear-power-plant"),
     "name_zh": "徐大堡核电（含二期）",
     "name_en": "Xudabao Nuclear Power Plant (incl. Phase II)",
     "excerpt": ["加快徐大堡核电二期", "推进徐大堡核电"],
     "why": "四.(四).2 names phase II, 五.(一).2 the plant; one site at Xudabao, Xingcheng"},
    {"id": "shenfu-reform-innovation-demo-zone",
     "members": [("part-2-3.geojson", "shenfu-reform-innovation-demo-zone"),
                 ("part-5-8.geojson", "shenfu-demonstration-zone")],
     "geometry_from": ("part-2-3.geojson", "shenfu-reform-innovation-demo-zone"),
     "why": "三.(一).1 and 七.(九) both name 沈抚示范区 (沈抚改革创新示范区)"},
    {"id": "liaoning-ftz-dalian-area",
     "members": [("part-2-3.geojson", "liaoning-ftz-dalian-area"),
                 ("part-4.geojson", "liaoning-ftz-dalian-area"),
                 ("part-5-8.geojson", "liaoning-ftz-dalian-area")],
     "geometry_from": ("part-2-3.geojson", "liaoning-ftz-dalian-area"),
     "excerpt": ["以自贸区为载体推动金融对外开放", "高水平建设辽宁自贸试验区大连片区和营口片区",
                 "加快自贸试验区改革创新"],
     "why": "二.(二).3, 四.(一).2 and 七.(七) all concern the Dalian Area of the Liaoning FTZ (three helpers, one id)"},
    {"id": "liaoning-ftz-shenyang-area",
     "members": [("part-2-3.geojson", "liaoning-ftz-shenyang-area"),
                 ("part-5-8.geojson", "liaoning-ftz-shenyang-area")],
     "geometry_from": ("part-5-8.geojson", "liaoning-ftz-shenyang-area"),
     "why": "三.(五).3 and 七.(七) concern the Shenyang Area of the Liaoning FTZ"},
    {"id": "liaoning-ftz-yingkou-area",
     "members": [("part-4.geojson", "liaoning-ftz-yingkou-area"),
                 ("part-5-8.geojson", "liaoning-ftz-yingkou-area")],
     "geometry_from": ("part-4.geojson", "liaoning-ftz-yingkou-area"),
     "why": "四.(一).2 and 七.(七) concern the Yingkou Area of the Liaoning FTZ"},
    {"id": "huanren-gucheng-airport",
     "members": [("part-2-3.geojson", "huanren-gucheng-airport"),
                 ("part-5-8.geojson", "huanren-gucheng-airport")],
     "geometry_from": ("part-5-8.geojson", "huanren-gucheng-airport"),
     "name_zh": "桓仁古城机场（运输机场）",
     "name_en": "Huanren Gucheng Airport",
     "why": "三.(二).1 “桓仁古城机场” and 六.(四) “桓仁古城运输机场” are the same airport"},
    {"id": "xingcheng-ancient-city",
     "members": [("part-4.geojson", "huludao-ningyuan-ancient-city"),
                 ("part-5-8.geojson", "xingcheng-ancient-city")],
     "geometry_from": ("part-5-8.geojson", "xingcheng-ancient-city"),
     "name_zh": "葫芦岛宁远古城（兴城古城）",
     "name_en": "Ningyuan Ancient City (Xingcheng Old Town), Huludao",
     "excerpt": ["葫芦岛宁远古城等历史文化城区", "兴城古城世界文化遗产申遗工程"],
     "why": "四.(五).1 宁远古城 and 五.(二).3 兴城古城 are the same Ming walled town in Xingcheng"},
    {"id": "port-of-dalian",
     "members": [("part-2-3.geojson", "dalian-port"),
                 ("part-4.geojson", "port-of-dalian")],
     "geometry_from": ("part-4.geojson", "port-of-dalian"),
     "name_zh": "大连港（大连国际性枢纽港）",
     "name_en": "Port of Dalian (Dalian international hub port)",
     "excerpt": ["发挥大连国际性枢纽港效能", "以大连港为枢纽、营口港为骨干"],
     "why": "二.(二).1 大连国际性枢纽港 and 四.(一).1 大连港 are the same port"},
    {"id": "dalian-port-national-logistics-hub",
     "members": [("part-2-3.geojson", "dalian-port-national-logistics-hub"),
                 ("part-4.geojson", "dalian-national-logistics-hub")],
     "geometry_from": ("part-2-3.geojson", "dalian-port-national-logistics-hub"),
     "name_zh": "大连港口型国家物流枢纽",
     "name_en": "Dalian Port-type National Logistics Hub",
     "excerpt": ["加快港口型国家物流枢纽建设", "推进大连、营口、丹东等国家物流枢纽及口岸设施建设"],
     "why": "二.(二).2 港口型国家物流枢纽 (Dalian) and 四.(一).1/四.(三).5 大连国家物流枢纽 are the same hub"},
]

# Pairs looked at and deliberately NOT merged (reported, so a reviewer sees the decision).
NOT_MERGED = [
    ("dahuofang-reservoir", "dahuofang-water-transmission-phase2-step2",
     "the reservoir (六) and the water-transmission project drawing from it (三) are different works"),
    ("china-europe-railway-express-shenyang-hub", "china-europe-railway-coastal-assembly-centre",
     "Shenyang assembly centre (二/三) vs the coastal assembly centre (四): two different centres"),
    ("china-europe-railway-express-shenyang-hub", "shenyang-international-land-port",
     "the 中欧班列 assembly-centre designation and the 沈阳国际陆港 construction project are named as separate items"),
    ("shenyang-airport-economic-zone", "shenyang-airport-zone-supporting-park-benxi",
     "the airport economic zone vs a supporting park built with Benxi"),
    ("shenyang-airport-economic-zone", "shenyang-comprehensive-bonded-zone",
     "different zones (airport economy zone vs comprehensive bonded zone) sharing a placeholder point"),
    ("dalian-jinzhouwan-airport", "dalian-airport-economy-demo-zone",
     "the airport vs the airport-economy demonstration zone around it"),
    ("dalian-jinzhouwan-airport", "jinzhou-bay-airport",
     "大连金州湾 (Dalian) vs 锦州湾 (Jinzhou): different airports with similar names"),
    ("dalian-jinpu-new-area", "jinpu-import-trade-promotion-demo-zone",
     "the new area vs the import-trade demonstration zone inside it"),
    ("liaoning-ftz-dalian-area", "dalian-ftz-pharma-life-health-pilot-zone",
     "the FTZ area vs the pharma pilot zone inside it"),
    ("changxing-island-petrochemical-base", "dalian-petrochemical-relocation-upgrade",
     "the base vs the 大石化 relocation project moving into it"),
    ("liaodong-bay-petrochemical-base-panjin", "huajin-aramco-fine-chemicals-project",
     "the base vs one project inside it"),
    ("yalu-river-border-tourism-belt", "dandong-cross-border-tourism-coop-zone",
     "a tourism belt vs a cross-border cooperation zone (both 六.(三))"),
    ("huanren-ginseng-industrial-park", "huanren-ginseng-origin-market",
     "industrial park (六.(二).3) vs origin market (六.(二).4)"),
    ("fuxin-resource-city-transition-demo", "fuxin-energy-innovation-demo-city",
     "two different national designations of Fuxin"),
    ("liaoning-fine-chemicals-catalysis-lab", "yingeshi-science-city",
     "a laboratory inside the science city, not the science city itself"),
    ("dalian-national-tech-transfer-demo-zone", "四.(二).1 创建国家科技成果转移转化示范区",
     "四.(二).1 speaks of the coastal belt without naming Dalian; not added to the Dalian feature"),
]

# --------------------------------------------------------------------------------------------
# 2. Per-feature fixes (applied after merging, keyed by final id).  Anything not listed keeps the
#    helper's value.  "geometry" replaces the point; "line" makes it a LineString through the given
#    waypoints in order, each [lon, lat] or a seats.json adcode (that seat's exact position); adcodes
#    are re-derived from the boundaries (null for a line).
# --------------------------------------------------------------------------------------------
FEATURE_FIXES = {
    # --- the six positions the acceptance tests check -----------------------------------------
    "dalian-jinzhouwan-airport": {
        "geometry": [121.60158, 39.11991],
        "location_precision": "site",
        "location_source": (
            "OurAirports (davidmegginson/ourairports-data airports.csv, CN-0398 “Dalian Jinzhouwan "
            "International Airport (Under Construction)”) 39.119913N 121.60158E, on the reclaimed island in "
            "eastern Jinzhou Bay; zh-Wikipedia 大连金州湾国际机场 gives 39°06′32″N 121°36′56″E, 1.8 km SE of it; "
            "both fit Baidu Baike's “东南距周水子机场约18千米、南距市中心约23千米”"),
    },
    "xudabao-nuclear-power-plant": {
        "location_precision": "site",
        "location_source": (
            "en-Wikipedia Xudabao Nuclear Power Plant infobox 40°21′5″N 120°32′45″E (two mirrors agree); "
            "plant in Xudabao village, Haibin, Xingcheng (Wikipedia, NS Energy)"),
    },
    "niuheliang-hongshan-site": {
        "geometry": [119.5, 41.325],
        "location_precision": "site",
        "location_source": (
            "Main site area (Localities 1–2: Goddess Temple, cairns, site museum) at 41°19′30″N 119°30′E, between "
            "Nelson & Stencel (AAS 1997 abstract) “near 41N19' and 119E30'” — also the Wikipedia figure quoted in "
            "the brief — and Baidu Baike “119°30′E, 41°20′N”; the UNESCO tentative-list point 41°16′15″N "
            "119°27′9″E lies ~6 km SW towards Lingyuan and was not used"),
    },
    "changxing-island-petrochemical-base": {
        # an island centroid, not the base: district (the named place 长兴岛), shared with the 大石化 relocation
        "location_precision": "district",
        "place_id": "dalian-changxing-island",
        "location_source": (
            "Centre of Changxing Island (the named place 长兴岛) per en-Wikipedia “Changxing Island, Dalian” infobox "
            "39°34′51″N 121°23′15″E (as recorded by the earlier curation); the island is 30 km E–W and the base "
            "occupies it and Xizhong Island to its north, so the point is the island's centre, not a site"),
    },
    "qingyuan-pumped-storage": {
        # The station is in 北三家镇, 清原 (hhygw.cn 2022; 中国电力网 2024; hongxingpaper/中国电建 2021), but no
        # source with coordinates (GEM wiki, Wikipedia, OSM, papers) was found in the searchable corpora.
        "geometry": [124.924, 42.101],
        "location_precision": "county",
        "location_source": (
            "Qingyuan Manchu Autonomous County seat (seats.json); the station is in Beisanjia town, Qingyuan County "
            "(hhygw.cn 2022-07; 中国电力网 2024-04; 中国电建 2021-10); no source for the station's or the town's "
            "position (GEM tracker/wiki, Wikipedia, OSM) was reachable, so it stays at county precision. NOT a "
            "verified site"),
    },
    "huanren-gucheng-airport": {
        "geometry": [125.36, 41.27],
        "location_precision": "county",
        "place_id": "huanren-county-seat",
        "location_source": (
            "Huanren Manchu Autonomous County seat (seats.json); planned airport in Gucheng town, Huanren County "
            "(named in the plan); no source for its position was found (OurAirports has no entry; no "
            "Wikipedia/CAAC page in the corpora), so it stays at county precision. NOT a verified site"),
    },
    # --- other positions upgraded from looked-up airport data ---------------------------------
    "jinzhou-bay-airport": {
        "geometry": [121.27711, 40.93603],
        "location_precision": "site",
        "location_source": "OurAirports ZYJZ “Jinzhou Bay Airport” 40.936032N 121.277114E (airports.csv)",
    },
    "fuxin-airport": {
        "geometry": [121.71812, 42.06901],
        "location_precision": "site",
        "location_source": "OurAirports ZYFX “Fuxin Airport” 42.069014N 121.718122E (airports.csv)",
    },
    # --- excerpt repairs: the helpers wrote “……” inside excerpts, which is not verbatim text ---
    "rare-earth-steel-test-platform": {"excerpt": [
        "推进高端稀土钢特种材料研发测试平台",
        "高端稀土钢特种材料研发测试平台等重大科技基础设施纳入国家建设序列"]},
    "dalian-commodity-exchange": {"excerpt": ["支持大连商品交易所建设国际大宗商品定价中心和风险管理中心"]},
    "shenben-pharma-health-belt": {"excerpt": ["打造装备制造配套基地和医药健康产业带，实现医药健康产业总产值超千亿"]},
    "shenben-equipment-supporting-base": {"excerpt": ["沈阳、本溪市强化装备制造、生物医药等重点产业对接合作，依托重点园区平台，打造装备制造配套基地"]},
    "shenyang-international-land-port": {"excerpt": ["推进沈阳国际陆港"]},
    "huanren-dayahe-pumped-storage": {"excerpt": ["本溪桓仁大雅河、本溪太子河、阜新海州露天矿、岫岩县龙潭等抽水蓄能电站建设"]},
    "benxi-taizihe-pumped-storage": {"excerpt": ["本溪太子河、阜新海州露天矿、岫岩县龙潭等抽水蓄能电站建设"]},
    "fuxin-haizhou-mine-pumped-storage": {"excerpt": ["阜新海州露天矿、岫岩县龙潭等抽水蓄能电站建设"]},
    "new-energy-electric-aircraft-key-lab": {"excerpt": ["争取省部共建新能源通航电动飞机、高性能建筑与灾害防控、设施园艺生产与环境调控等 3 个国家重点实验室"]},
    "high-performance-building-disaster-key-lab": {"excerpt": ["高性能建筑与灾害防控、设施园艺生产与环境调控等 3 个国家重点实验室"]},
    "deep-engineering-disaster-simulation-facility": {"excerpt": ["争取超大型深部工程灾害物理模拟实验装置、未来工业互联网创新基础设施、高端稀土钢特种材料研发测试平台等重大科技基础设施纳入国家建设序列"]},
    "future-industrial-internet-infrastructure": {"excerpt": ["未来工业互联网创新基础设施、高端稀土钢特种材料研发测试平台等重大科技基础设施纳入国家建设序列"]},
    "anshan-benxi-steel-new-materials-cluster": {"excerpt": ["聚力打造具有国际影响力的先进装备制造业基地、世界级冶金新材料产业基地", "支持鞍本联合打造世界级钢铁冶金新材料产业集群"]},
    # 三.(二).1 names 沈阳地铁 (shenyang-metro, part-additions) and the Line 9 extension: each quotes its own words
    "shenyang-metro-line9-shenfu-extension": {"excerpt": ["推动 9 号线向沈抚示范区延伸"]},
    # --- a line the plan names by one place: a line between the two cities it links ------------
    "fuxin-chuanzhou-500kv": {
        "line": ["211300", "210900"],
        "location_precision": "schematic",
        "location_source": (
            "Schematic: a straight line through the two city seats the line links, 朝阳市 (211300) to 阜新市 "
            "(210900) (seats.json), not the route. The plan's 阜新川州 500 kV project is the 500千伏辽宁朝阳川州—阜新 "
            "transmission line: the report “辽宁朝阳：新能源配套枢纽工程建设正酣” (2022) gives 线路总长186千米 "
            "(the seat-to-seat line is 113 km), 新建铁塔474基, from Chuanzhou in Chaoyang to Fuxin, and "
            "“建成后可提高朝阳、阜新电网供电可靠性” (reposted at "
            "http://studentannounce.com/news/show.php?itemid=146484); the substation sites and the route are not "
            "published. No location_cite: the report gives the line's ends and length, not a position"),
        "location_cite": None,
    },
    # --- corridors re-routed over land: straight segments between far-apart seats (营口 -> 大连, 普兰店 ->
    #     大连, 大连 -> 沈阳) cut across Liaodong Bay and Dalian's bays and counted the sea as outside Liaoning;
    #     they now pass the county seats of the land route (seats.json) -----------------------------
    "dahuofang-water-transmission-phase2-step2": {
        "line": [[124.11144, 41.88363], "210400", "210100", "211000", "210300", "210800", "210881", "210804",
                 "210281", "210214", "210213", "210211", "210200"],
        "location_source": (
            "Schematic of the Dahuofang phase-II supply trunk, from the reservoir (the cited position of "
            "dahuofang-reservoir, near the dam) through the seats (seats.json) of 抚顺市, 沈阳市, 辽阳市, 鞍山市, "
            "营口市, 盖州市, 鲅鱼圈区, 瓦房店市, 普兰店区, 金州区 and 甘井子区 to the 大连市 seat, on land; the "
            "step-2 extent and the route are not stated in the plan"),
    },
    "shenyang-dalian-economic-axis": {
        "line": ["210100", "211000", "210300", "210381", "210800", "210881", "210804", "210281", "210214",
                 "210213", "210211", "210200"],
        "location_source": (
            "Schematic axis along the Shenyang–Dalian corridor through city and county seats (seats.json): "
            "沈阳市, 辽阳市, 鞍山市, 海城市, 营口市, 盖州市, 鲅鱼圈区, 瓦房店市, 普兰店区, 金州区, 甘井子区, "
            "大连市, on land"),
    },
    "yinyang-rulian-water-diversion": {
        "line": ["210323", "210283", "210214", "210213", "210211", "210200"],
        "location_source": (
            "Schematic: diversion from the Dayang River (大洋河, Xiuyan/Donggang) to Dalian, ~287 km pipeline "
            "through the low hills of Dandong and SE Dalian; waypoints are the seats (seats.json) of 岫岩满族自治县, "
            "庄河市, 普兰店区, 金州区 and 甘井子区 and the 大连市 seat, on land; intake and route not looked up"),
    },
    "dalian-shenyang-horgos-europe-corridor": {
        "line": ["210200", "210211", "210213", "210214", "210281", "210804", "210881", "210800", "210381",
                 "210300", "211000", "210100",
                 [116.407, 39.904], [103.834, 36.061], [87.617, 43.826], [80.42, 44.21]],
        "location_source": (
            "Schematic rail corridor through seats: in Liaoning the seats (seats.json) of 大连市, 甘井子区, 金州区, "
            "普兰店区, 瓦房店市, 鲅鱼圈区, 盖州市, 营口市, 海城市, 鞍山市, 辽阳市 and 沈阳市 (roughly the "
            "Harbin–Dalian railway's land route), then the city seats of Beijing, Lanzhou, Urumqi and Horgos (border crossing to "
            "Kazakhstan; onward to Europe not drawn); intermediate routing west of Shenyang is indicative only"),
    },
    "dalian-shenyang-manzhouli-europe-corridor": {
        "line": ["210200", "210211", "210213", "210214", "210281", "210804", "210881", "210800", "210381",
                 "210300", "211000", "210100",
                 [125.3245, 43.8868], [126.535, 45.803], [123.918, 47.354], [119.765, 49.212], [117.379, 49.598]],
        "location_source": (
            "Schematic rail corridor through seats: in Liaoning the seats (seats.json) of 大连市, 甘井子区, 金州区, "
            "普兰店区, 瓦房店市, 鲅鱼圈区, 盖州市, 营口市, 海城市, 鞍山市, 辽阳市 and 沈阳市 (roughly the "
            "Harbin–Dalian railway's land route), then the city seats of Changchun, Harbin, Qiqihar, Hailar and Manzhouli (border "
            "crossing to Russia; onward to Europe not drawn)"),
    },
    # --- the same lab named again in part 四 -------------------------------------------------
    "liaoning-fine-chemicals-catalysis-lab": {
        "add_sections": ["四.(二).1"],
        "excerpt": ["在材料、智能制造、精细化工与催化三个方向高标准建设辽宁实验室", "加快建设辽宁精细化工与催化研究中心"],
    },
}

# Section references that are not plan items: 二.(二) has numbered items, so the FTZ mention in
# its intro is cited through the item (二.(二).3) that names the FTZ again.
DROP_SECTIONS = {("part-2-3.geojson", "liaoning-ftz-dalian-area"): ["二.(二)"]}

# --------------------------------------------------------------------------------------------
# 3. Targets.  Targets that sit in a project AND in targets.json stay with the project (the figure
#    describes that project); they are removed from targets.json and keep their targets.json id.
# --------------------------------------------------------------------------------------------
TARGET_IDS = {  # (project id, target section, indicator_zh) -> id
    ("china-europe-railway-express-shenyang-hub", "二.(一).1", "中欧班列开行数量全国排名"): "shenyang-china-europe-train-rank",
    ("port-of-dalian", "二.(二).1", "港口货物总吞吐量"): "dalian-port-cargo-throughput",
    ("dalian-petrochemical-cluster", "二.(二).4", "石化产业集群规模"): "dalian-petrochemical-cluster",
    ("dalian-high-end-manufacturing-cluster", "二.(二).4", "高端制造业产业集群规模"): "dalian-high-end-manufacturing-cluster",
    ("shenben-pharma-health-belt", "三.(一).2", "医药健康产业总产值"): "shenben-pharma-health-output",
    ("fuxin-million-mu-water-saving", "三.(六).2", "农业节水面积"): "fuxin-water-saving-area",
    ("dalian-next-gen-it-industry-cluster", "四.(三).3", "产业集群规模"): "dalian-ict-cluster",
}
MOVED_FROM_TARGETS_JSON = ["shenyang-china-europe-train-rank", "dalian-petrochemical-cluster",
                           "dalian-high-end-manufacturing-cluster", "dalian-ict-cluster"]
# What a project target's value measures (README.md, `indicators`): a level unless listed here.  A
# listed target gets `measure` right after `unit`, as targets.json writes it.
TARGET_MEASURES = {
    "dalian-port-cargo-throughput": "year_total",
    "dalian-petrochemical-cluster": "year_total",
    "dalian-high-end-manufacturing-cluster": "year_total",
    "shenben-pharma-health-output": "year_total",
    "dalian-ict-cluster": "year_total",
}
TARGET_FIXES = {  # the Dalian ICT target had a vague indicator name
    "dalian-ict-cluster": {"indicator_zh": "新一代信息技术产业集群规模",
                           "indicator_en": "next-generation IT industry cluster output scale"},
}

# --------------------------------------------------------------------------------------------
# 4. consistency_notes.  Explanations a planner would accept, keyed by (check, project id);
#    near_duplicate notes with only a shared place name get a generated sentence.
# --------------------------------------------------------------------------------------------
REGION_OF_PART = {"三": "shenyang-circle", "四": "coastal-belt", "五": "liaoxi-zone", "六": "liaodong-zone"}
PART_NAMES = {"三": "三 (Shenyang metropolitan circle)", "四": "四 (coastal belt)",
              "五": "五 (Liaoxi zone)", "六": "六 (Liaodong green zone)"}
GENERIC_WORDS = ["产业园", "产业", "基地", "中心", "示范区", "试验区", "先行区", "项目", "工程", "建设", "国家",
                 "中国", "辽宁", "省", "集群", "园区", "重点", "省部共建", "国际", "改造", "升级", "改扩建"]
NOTE_TEXT = {}  # filled below, after the helpers that need it


def die(msg):
    sys.stderr.write("merge_projects: " + msg + "\n")
    sys.exit(1)


# ---------------------------------------------------------------------------------- inputs ---
def load_parts():
    feats = []
    for part in PARTS:
        fc = json.loads((GEO / "curation" / part).read_text(encoding="utf-8"))
        for ft in fc["features"]:
            feats.append((part, ft))
    return feats


def plan_text():
    lines = (GEO / "plan" / "plan.txt").read_text(encoding="utf-8").splitlines()
    text = "".join(c for c in (PI.clean_line(l) for l in lines) if c)
    return PI.BRACKET_RE.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)


ITEMS = json.loads((GEO / "plan-items.json").read_text(encoding="utf-8"))
ITEM = {r["section"]: r for r in ITEMS}
ORDER = {r["section"]: i for i, r in enumerate(ITEMS)}
HAS_CHILDREN = {r["parent"] for r in ITEMS if r["parent"]}
TEXT = plan_text()

COUNTIES = [(f["properties"], shape(f["geometry"]))
            for f in json.loads((GEO / "liaoning-counties.geojson").read_text(encoding="utf-8"))["features"]]
CITIES = [(f["properties"], shape(f["geometry"]))
          for f in json.loads((GEO / "liaoning-cities.geojson").read_text(encoding="utf-8"))["features"]]
COUNTY_BY_AD = {p["adcode"]: (p, g) for p, g in COUNTIES}
CITY_BY_AD = {p["adcode"]: (p, g) for p, g in CITIES}


def county_at(lon, lat):
    pt = Point(lon, lat)
    for p, g in COUNTIES:
        if g.contains(pt):
            return p
    for p, g in COUNTIES:  # on a border: first county (adcode order) touching it
        if g.intersects(pt):
            return p
    return None


def region_geoms():
    regs = tomllib.loads((GEO / "regions.toml").read_text(encoding="utf-8"))["region"]
    out = {}
    for r in regs:
        ads = set()
        for m in r["member"]:
            ad = m.get("adcode")
            if not ad:
                continue  # functional zone without a boundary
            if m["level"] == "city":
                ads |= {p["adcode"] for p, _ in COUNTIES if p["parent_adcode"] == ad}
            else:
                ads.add(ad)
        out[r["id"]] = (ads, unary_union([COUNTY_BY_AD[a][1] for a in ads]))
    return out


REGIONS = region_geoms()


def strip_suffix(name):
    for suf in ("满族蒙古族自治县", "蒙古族自治县", "满族自治县", "自治县", "市", "县", "区"):
        if name.endswith(suf) and len(name) > len(suf) + 1:
            return name[: -len(suf)]
    return name


ADMIN_BY_NAME = {}  # stripped Chinese name -> list of (level, props, geom)
for p, g in COUNTIES:
    ADMIN_BY_NAME.setdefault(strip_suffix(p["name_zh"]), []).append(("county", p, g))
for p, g in CITIES:
    ADMIN_BY_NAME.setdefault(strip_suffix(p["name_zh"]), []).append(("city", p, g))


def hav_km(a, b):
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# ------------------------------------------------------------------------------ merging ---
def excerpt_pieces(ex):
    if not ex:
        return []
    return [p for p in ex.split(SEP) if p]


def merge_group(spec, by_key):
    members = [by_key.pop(k) for k in spec["members"]]
    geo_src = dict(zip(spec["members"], members))[spec["geometry_from"]]
    props = dict(geo_src["properties"])
    props["id"] = spec["id"]
    for k in ("name_zh", "name_en"):
        if k in spec:
            props[k] = spec[k]
    secs, pieces, targets = [], [], []
    for m in members:
        mp = m["properties"]
        secs += mp["sections"]
        pieces += excerpt_pieces(mp["excerpt"])
        targets += mp.get("targets") or []
    props["sections"] = secs
    props["excerpt"] = spec.get("excerpt") or pieces
    props["targets"] = targets
    props["_members"] = members
    return {"type": "Feature", "geometry": geo_src["geometry"], "properties": props}


def units_for(section, props, pieces):
    """Lead and co units of the bracket whose paragraph names the project (pieces: excerpt pieces)."""
    it = ITEM[section]
    resps = it["responsibilities"]
    if not resps:
        return None, []
    if len(resps) == 1:
        return resps[0]["lead_unit"], list(resps[0]["co_units"])
    segs, prev = [], 0
    for m in PI.BRACKET_RE.finditer(it["text"]):
        segs.append(it["text"][prev: m.start()])
        prev = m.end()
    keys = [p for p in pieces if p in it["text"]]
    name = re.sub(r"（.*?）", "", props["name_zh"])
    keys += [name, name[:4]]
    for k in keys:
        hits = [i for i, s in enumerate(segs) if k and k in s]
        if hits:
            r = resps[hits[0]]
            return r["lead_unit"], list(r["co_units"])
    die("%s: cannot tell which bracket of %s applies" % (props["id"], section))


def main():
    raw = load_parts()
    by_key = {}
    for part, ft in raw:
        key = (part, ft["properties"]["id"])
        if key in by_key:
            die("duplicate id inside %s: %s" % key)
        ft = json.loads(json.dumps(ft))  # private copy
        for s in DROP_SECTIONS.get(key, []):
            ft["properties"]["sections"].remove(s)
        by_key[key] = ft
    n_in = len(by_key)

    merged = [merge_group(spec, by_key) for spec in MERGES]
    feats = merged + list(by_key.values())
    for ft in feats:
        p = ft["properties"]
        if not isinstance(p["excerpt"], list):
            p["excerpt"] = excerpt_pieces(p["excerpt"])

    ids = [f["properties"]["id"] for f in feats]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        die("ids still duplicated after merging: %s" % sorted(dup))
    byid = {f["properties"]["id"]: f for f in feats}

    for fid, fix in FEATURE_FIXES.items():
        if fid not in byid:
            die("fix for unknown id %s" % fid)
        ft, p = byid[fid], byid[fid]["properties"]
        if "geometry" in fix and "line" in fix:
            die("fix for %s gives both a point and a line" % fid)
        if "geometry" in fix:
            ft["geometry"] = {"type": "Point", "coordinates": fix["geometry"]}
        if "line" in fix:
            ft["geometry"] = {"type": "LineString", "coordinates": [waypoint(fid, w) for w in fix["line"]]}
        for k in ("location_precision", "location_source", "location_cite", "place_id", "named_place", "excerpt"):
            if k in fix:
                p[k] = fix[k]
        p["sections"] = p["sections"] + fix.get("add_sections", [])

    problems = []
    for ft in feats:
        p = ft["properties"]
        # sections: existing items, plan order, no duplicates; section-level only if it has no items
        secs = sorted(set(p["sections"]), key=lambda s: ORDER.get(s, 10 ** 6))
        for s in secs:
            if s not in ITEM:
                problems.append("%s: unknown section %s" % (p["id"], s))
            elif ITEM[s]["level"] != "item" and s in HAS_CHILDREN:
                problems.append("%s: %s has numbered items; cite the item" % (p["id"], s))
        p["sections"] = secs
        # excerpt pieces: verbatim, unique, joined
        pieces = []
        for x in p["excerpt"]:
            if x not in TEXT:
                problems.append("%s: excerpt piece not verbatim: %s" % (p["id"], x))
            if x not in pieces:
                pieces.append(x)
        p["excerpt"] = SEP.join(pieces)
        # lead from the first item; co units = the first item's co units, then every later item's
        # units (its lead and co units) — the union of all responsible units except the lead
        lead, co = units_for(secs[0], p, pieces)
        for s in secs[1:]:
            l2, c2 = units_for(s, p, pieces)
            co += ([l2] if l2 else []) + c2
        seen, co_u = set(), []
        for u in co:
            if u != lead and u not in seen:
                seen.add(u)
                co_u.append(u)
        p["lead_unit"], p["co_units"] = lead, co_u
        # geometry-derived fields
        g = ft["geometry"]
        if g["type"] == "Point":
            lon, lat = g["coordinates"]
            c = county_at(lon, lat)
            if c is None:
                problems.append("%s: point outside Liaoning" % p["id"])
                continue
            p["county_adcode"], p["city_adcode"] = c["adcode"], c["parent_adcode"]
        elif g["type"] == "LineString":
            p["county_adcode"] = p["city_adcode"] = None
        else:
            problems.append("%s: geometry type %s not allowed" % (p["id"], g["type"]))
        # vocabulary
        if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", p["id"]) or len(p["id"]) > 48:
            problems.append("%s: bad id" % p["id"])
        if p["category"] not in CATEGORIES:
            problems.append("%s: bad category %s" % (p["id"], p["category"]))
        if p["location_precision"] not in PRECISIONS:
            problems.append("%s: bad precision %s" % (p["id"], p["location_precision"]))

    # targets
    tj = json.loads((GEO / "targets.json").read_text(encoding="utf-8"))
    tj_kept = [t for t in tj if t["id"] not in MOVED_FROM_TARGETS_JSON]
    target_ids = {t["id"] for t in tj_kept}
    for ft in feats:
        p = ft["properties"]
        for t in p["targets"]:
            key = (p["id"], t["section"], t["indicator_zh"])
            if key not in TARGET_IDS:
                problems.append("target without an id rule: %s" % (key,))
                continue
            tid = TARGET_IDS[key]
            t.update(TARGET_FIXES.get(tid, {}))
            t2 = {"id": tid}
            for k, v in t.items():
                if k in ("id", "measure"):
                    continue
                t2[k] = v
                if k == "unit" and tid in TARGET_MEASURES:
                    t2["measure"] = TARGET_MEASURES[tid]
            if tid in TARGET_MEASURES and "measure" not in t2:
                problems.append("%s: TARGET_MEASURES given but the target has no unit" % tid)
            t.clear()
            t.update(t2)
            if tid in target_ids:
                problems.append("target id %s not unique" % tid)
            target_ids.add(tid)
            if t["excerpt"] not in TEXT:
                problems.append("%s: target excerpt not verbatim" % tid)
            for o in tj_kept:  # same figure in both files?
                if o["section"] == t["section"] and (o["excerpt"] in t["excerpt"] or t["excerpt"] in o["excerpt"]):
                    problems.append("target %s duplicates targets.json %s" % (tid, o["id"]))

    check_locations(feats, problems)
    notes_log = add_consistency_notes(feats, problems)

    if problems:
        die("checks failed:\n  " + "\n  ".join(problems))

    # output
    out_feats = []
    for ft in sorted(feats, key=lambda f: f["properties"]["id"]):
        p = ft["properties"]
        p.pop("_members", None)
        props = {k: p.get(k) for k in PROP_ORDER}
        extra = set(p) - set(PROP_ORDER)
        if extra:
            die("%s: unexpected properties %s" % (p["id"], extra))
        out_feats.append({"type": "Feature", "geometry": ft["geometry"], "properties": props})
    fc = {"type": "FeatureCollection", "features": out_feats}
    (GEO / "projects.geojson").write_text(json.dumps(fc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (GEO / "targets.json").write_text(json.dumps(tj_kept, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    summary(n_in, out_feats, tj, tj_kept, notes_log)


# ------------------------------------------------------------------- LOCATION RULE ---
SEATS = json.loads((GEO / "seats.json").read_text(encoding="utf-8"))
NOT_A_CITE = re.compile(r"own knowledge|own recollection|approx|estimate", re.I)
PLACE_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def r6(lon, lat):
    return (round(lon, 6), round(lat, 6))


def check_seats(problems):
    """seats.json: every city, every county a project may need; each seat inside its own polygon,
    6 decimals, and no county seat on its city's seat."""
    missing = [ad for ad in CITY_BY_AD if ad not in SEATS]
    if missing:
        problems.append("seats.json: cities missing: %s" % missing)
    for ad, s in SEATS.items():
        by = CITY_BY_AD if s.get("level") == "city" else COUNTY_BY_AD if s.get("level") == "county" else None
        if by is None or ad not in by:
            problems.append("seats.json %s: unknown adcode or level %r" % (ad, s.get("level")))
            continue
        props, geom = by[ad]
        if s.get("name_zh") != props["name_zh"]:
            problems.append("seats.json %s: name_zh %r is not %r" % (ad, s.get("name_zh"), props["name_zh"]))
        if not (isinstance(s.get("source"), str) and s["source"].strip()):
            problems.append("seats.json %s: no source" % ad)
        lon, lat = s["lon"], s["lat"]
        if r6(lon, lat) != (lon, lat):
            problems.append("seats.json %s: more than 6 decimals" % ad)
        if not geom.contains(Point(lon, lat)):
            problems.append("seats.json %s (%s): seat not inside its own polygon" % (ad, props["name_zh"]))
        if s["level"] == "county":
            c = SEATS.get(props["parent_adcode"])
            if c and r6(c["lon"], c["lat"]) == r6(lon, lat):
                problems.append("seats.json %s: county seat equals its city's seat" % ad)


def waypoint(fid, w):
    """A FEATURE_FIXES line waypoint: [lon, lat] as given, or a seats.json adcode as that seat's position."""
    if isinstance(w, str):
        if w not in SEATS:
            die("fix for %s: no seat %s in seats.json" % (fid, w))
        return [SEATS[w]["lon"], SEATS[w]["lat"]]
    if not (isinstance(w, list) and len(w) == 2 and all(isinstance(v, (int, float)) for v in w)):
        die("fix for %s: bad waypoint %r" % (fid, w))
    return list(w)


def place_key(p):
    if p.get("place_id"):
        return p["place_id"]
    if p["location_precision"] == "city":
        return "seat:%s" % p["city_adcode"]
    if p["location_precision"] == "county":
        return "seat:%s" % p["county_adcode"]
    return p["id"]


def check_locations(feats, problems):
    """Rules 1-5 of the location rule (geodata/README.md, “Location precision”), loudly."""
    check_seats(problems)
    at = {}
    for ft in feats:
        p = ft["properties"]
        fid, prec = p["id"], p["location_precision"]
        if not (isinstance(p.get("location_source"), str) and p["location_source"].strip()):
            problems.append("%s: location_source missing" % fid)
        cite = p.get("location_cite")
        if cite is not None and not (isinstance(cite, str) and cite.strip()):
            problems.append("%s: location_cite must be a non-empty string or null" % fid)
        pid = p.get("place_id")
        if pid is not None and not (isinstance(pid, str) and PLACE_ID_RE.fullmatch(pid)):
            problems.append("%s: place_id %r is not a kebab-case id" % (fid, pid))
        if ft["geometry"]["type"] != "Point":
            if prec != "schematic":
                problems.append("%s: a %s is schematic, not %s" % (fid, ft["geometry"]["type"], prec))
            continue
        lon, lat = ft["geometry"]["coordinates"]
        if prec == "site":
            if not (isinstance(cite, str) and cite.strip()) or NOT_A_CITE.search(cite):
                problems.append("%s: site without a location_cite that gives the position" % fid)
        elif prec == "district":
            if not (isinstance(p.get("named_place"), str) and p["named_place"].strip()):
                problems.append("%s: district without a named_place" % fid)
        elif prec in ("county", "city"):
            ad = p["county_adcode"] if prec == "county" else p["city_adcode"]
            s = SEATS.get(ad)
            if s is None or s["level"] != prec:
                problems.append("%s: %s precision but seats.json has no %s seat %s" % (fid, prec, prec, ad))
            elif r6(lon, lat) != r6(s["lon"], s["lat"]):
                problems.append("%s: %s precision but the point is not the seat of %s (%s)" % (fid, prec, ad, s["name_zh"]))
        at.setdefault(r6(lon, lat), []).append(p)
    for c, ps in sorted(at.items()):
        keys = {place_key(p) for p in ps}
        if len(keys) > 1:
            problems.append("%s share %s but their place keys differ: %s" % (
                [p["id"] for p in ps], c, sorted(keys)))


# ---------------------------------------------------------------------------- notes ---
def touches(region_id, geom):
    ads, union = REGIONS[region_id]
    return geom.intersects(union) if geom.geom_type != "Point" else union.contains(geom) or union.intersects(geom)


def name_core(name):
    s = name
    for w in sorted(GENERIC_WORDS, key=len, reverse=True):
        s = s.replace(w, "|")
    return [frag for frag in re.split(r"[|（）()“”、·\s，,—\-0-9]+", s) if frag]


def shared_bits(a, b):
    grams = lambda frags: {f[i:i + 2] for f in frags for i in range(len(f) - 1)}
    return sorted(grams(name_core(a)) & grams(name_core(b)))


PLACE_WORDS = set(ADMIN_BY_NAME) | {"沈抚", "鸭绿江", "辽河", "太平湾", "金普", "盛京"}
# Two-character pieces that are generic vocabulary rather than a project's name: a shared piece of
# this kind alone does not make two names similar, but the pair is still noted (with this wording).
SOFT_GENERIC = {"实验", "验室", "材料", "测试", "装置", "制造", "智能", "综合", "运动", "亿级", "互联", "联网",
                "灾害", "防控", "设施", "技术", "科技", "创新", "农业", "物流", "东北", "合作", "作区", "易地",
                "示范", "范市", "新区"}


def is_place(bit):
    return any(bit in w for w in PLACE_WORDS if len(w) >= 2)


def is_place_or_generic(bits):
    return all(is_place(b) or b in SOFT_GENERIC for b in bits)


def common_words(name, other_id, byname):
    """Maximal shared pieces (2+ characters) of two names' non-generic parts, for the note text."""
    a, b = "|".join(name_core(name)), "|".join(name_core(byname[other_id]))
    out = set()
    for i in range(len(a)):
        for j in range(i + 2, len(a) + 1):
            piece = a[i:j]
            if "|" in piece or piece not in b:
                break
            if not any(piece in o and piece != o for o in out):
                out = {o for o in out if o not in piece} | {piece}
    # a place piece cut out of a longer place word (太平, 平湾) is shown as the whole word (太平湾)
    shown = set()
    for w in out:
        whole = [pw for pw in PLACE_WORDS if w in pw and (pw in name)]
        shown.add(max(whole, key=len) if whole and len(w) < 3 else w)
    return shown


def add_consistency_notes(feats, problems):
    log = []
    pts = [f for f in feats if f["geometry"]["type"] == "Point"]
    for ft in feats:
        p = ft["properties"]
        p["consistency_notes"] = {}
        geom = shape(ft["geometry"])
        # region
        parts = sorted({s.split(".")[0] for s in p["sections"]} & set(REGION_OF_PART))
        missed = [pt for pt in parts if not touches(REGION_OF_PART[pt], geom)]
        if missed:
            text = NOTE_TEXT.get(("region", p["id"]))
            if not text:
                problems.append("%s: region check fires for %s but no explanation is written" % (p["id"], missed))
            else:
                p["consistency_notes"]["region"] = text
        # named_place
        if ft["geometry"]["type"] == "Point" and p.get("named_place"):
            toks = [t for t in re.split(r"[、，,/]", p["named_place"]) if t]
            cands = [ADMIN_BY_NAME[strip_suffix(t)] for t in toks if strip_suffix(t) in ADMIN_BY_NAME]
            if cands and not any(g.intersects(geom) for c in cands for _, _, g in c):
                text = NOTE_TEXT.get(("named_place", p["id"]))
                if not text:
                    problems.append("%s: named_place %s check fires but no explanation" % (p["id"], p["named_place"]))
                else:
                    p["consistency_notes"]["named_place"] = text
    # near_duplicate
    byname = {f["properties"]["id"]: f["properties"]["name_zh"] for f in feats}
    for ft in pts:
        p = ft["properties"]
        near = []
        for o in pts:
            if o is ft:
                continue
            d = hav_km(ft["geometry"]["coordinates"], o["geometry"]["coordinates"])
            if d <= 0.1:
                bits = shared_bits(p["name_zh"], o["properties"]["name_zh"])
                if bits:
                    near.append((o["properties"]["id"], bits, d))
        if not near:
            continue
        custom = NOTE_TEXT.get(("near_duplicate", p["id"]))
        meaningful = [n for n in near if not is_place_or_generic(n[1])]
        if meaningful and not custom:
            problems.append("%s: near_duplicate with %s needs an explanation" % (p["id"], [(n[0], n[1]) for n in meaningful]))
            continue
        if custom:
            p["consistency_notes"]["near_duplicate"] = custom
        else:
            words = {w for n in near for w in common_words(p["name_zh"], n[0], byname)}
            words = sorted(w for w in words if not any(w != o and w in o for o in words))
            places = [w for w in words if is_place(w)]
            generic = [w for w in words if not is_place(w)]
            what = []
            if places:
                what.append("the place name " + "/".join("«%s»" % b for b in places))
            if generic:
                what.append("the generic word(s) " + "/".join("«%s»" % b for b in generic))
            prec = p["location_precision"]
            where = {"city": "city-government seat", "county": "county seat", "district": "district/zone",
                     "schematic": "schematic anchor", "site": "site"}[prec]
            ids = [n[0] for n in near]
            shown = ", ".join(ids[:3]) + (" and %d more" % (len(ids) - 3) if len(ids) > 3 else "")
            p["consistency_notes"]["near_duplicate"] = (
                "Shares only %s with %s, stacked on the same %s point (%s precision); different plan projects, "
                "not duplicates." % (" and ".join(what), shown, where, prec))
    for ft in feats:
        for k, v in ft["properties"]["consistency_notes"].items():
            log.append((ft["properties"]["id"], k, v))
    return log


# ------------------------------------------------------------------------ explanations ---
NOTE_TEXT.update({
    ("near_duplicate", "dalian-jinpu-new-area"):
        "Shares «大连金普新区» and its placeholder point with jinpu-import-trade-promotion-demo-zone, a programme the "
        "plan asks this new area to build (四.(一).2); related, not a duplicate.",
    ("near_duplicate", "jinpu-import-trade-promotion-demo-zone"):
        "Shares «大连金普新区» and its placeholder point with dalian-jinpu-new-area because this import-trade "
        "promotion zone is to be built inside that new area (四.(一).2); related, not a duplicate.",
    ("near_duplicate", "dandong-border-residents-trade-zone"):
        "Shares «丹东» and «边» with dandong-border-economic-cooperation-zone at the Dandong city seat (city "
        "precision): the border residents' trade zone (四.(一).2) and the border economic cooperation zone "
        "(四.(一).3) are separate platforms, not duplicates.",
    ("near_duplicate", "dandong-border-economic-cooperation-zone"):
        "Shares «丹东» and «边» with dandong-border-residents-trade-zone at the Dandong city seat (city "
        "precision): the border economic cooperation zone (四.(一).3) and the border residents' trade zone "
        "(四.(一).2) are separate platforms, not duplicates.",
    ("near_duplicate", "changxing-island-petrochemical-base"):
        "Shares «石化» and the Changxing Island position with dalian-petrochemical-relocation-upgrade: PetroChina "
        "Dalian Petrochemical (大石化) is being relocated into this base, so that project is placed here; related, "
        "not a duplicate.",
    ("near_duplicate", "dalian-petrochemical-relocation-upgrade"):
        "Placed at the Changxing Island position of changxing-island-petrochemical-base (shared «石化») because "
        "大石化 is being relocated into that base; the relocation is a project of its own (四.(三).2), not a "
        "duplicate.",
    ("region", "dahuofang-reservoir"):
        "The cited position (asiaphotos.org GPS 41.88363N 124.11144E, near the dam at the reservoir's western end) "
        "falls in Dongzhou District (Fushun city), which is not a Liaodong member; the reservoir extends east into "
        "Fushun County, the member that regions.toml includes because of this reservoir, so the project touches the "
        "zone through its upstream part, which a point cannot show.",
    ("near_duplicate", "liaoning-ftz-dalian-area"):
        "Shares «大连»/«片区» and the Jinzhou District seat point (county precision) with "
        "dalian-ftz-pharma-life-health-pilot-zone, a pilot zone inside this FTZ area (四.(一).2); related, not a "
        "duplicate.",
    ("near_duplicate", "dalian-ftz-pharma-life-health-pilot-zone"):
        "Shares «大连»/«片区» and the Jinzhou District seat point (county precision) with liaoning-ftz-dalian-area: "
        "this pharma and life-health pilot zone lies inside the FTZ Dalian Area (四.(一).2); related, not a duplicate.",
    ("near_duplicate", "shenfei-airfield-relocation"):
        "Shares only «飞机» (沈飞机场 vs 电动飞机) and the Shenyang city seat (city precision) with "
        "new-energy-electric-aircraft-key-lab: an airfield relocation (三.(二).1) and a laboratory (三.(三).1), not "
        "duplicates.",
    ("near_duplicate", "new-energy-electric-aircraft-key-lab"):
        "Shares only «飞机» (电动飞机 vs 沈飞机场) and the Shenyang city seat (city precision) with "
        "shenfei-airfield-relocation: a laboratory (三.(三).1) and an airfield relocation (三.(二).1), not duplicates.",
    ("near_duplicate", "deep-engineering-disaster-simulation-facility"):
        "Shares «深部» and the Shenyang city seat (city precision) with skl-deep-engineering-intelligent-tech: both "
        "are named in 三.(三).1, one a large physical-simulation facility to be brought into the national programme, "
        "the other a state key laboratory; different projects, not duplicates.",
    ("near_duplicate", "skl-deep-engineering-intelligent-tech"):
        "Shares «深部» and the Shenyang city seat (city precision) with deep-engineering-disaster-simulation-facility: "
        "both are named in 三.(三).1, one a state key laboratory, the other a large physical-simulation facility; "
        "different projects, not duplicates.",
    ("near_duplicate", "cmu-first-hospital-regional-medical-center"):
        "Shares «中国医科大学附属» and the Heping District seat point (county precision) with "
        "shengjing-hospital-children-regional-center: two different hospitals of China Medical University (the First "
        "Hospital's cancer and cardiovascular centre and Shengjing Hospital's children's centre, both 三.(七).2), not "
        "duplicates.",
    ("near_duplicate", "shengjing-hospital-children-regional-center"):
        "Shares «中国医科大学附属» and the Heping District seat point (county precision) with "
        "cmu-first-hospital-regional-medical-center: two different hospitals of China Medical University (Shengjing "
        "Hospital's children's centre and the First Hospital's cancer and cardiovascular centre, both 三.(七).2), not "
        "duplicates.",
    ("near_duplicate", "china-europe-railway-coastal-assembly-centre"):
        "Shares only «沿海» and the Port of Dalian anchor (place_id port-of-dalian) with liaoning-coastal-six-ports: a "
        "China–Europe rail assembly centre (四.(一).1) and the group of six coastal ports (七.(六)), both anchored "
        "schematically at the hub port; not duplicates.",
    ("near_duplicate", "liaoning-coastal-six-ports"):
        "Shares only «沿海» and the Port of Dalian anchor (place_id port-of-dalian) with "
        "china-europe-railway-coastal-assembly-centre: the group of six coastal ports (七.(六)) and a China–Europe rail "
        "assembly centre (四.(一).1), both anchored schematically at the hub port; not duplicates.",
    ("near_duplicate", "dalian-smart-city-medical-consortium-pilot"):
        "Shares only the place name «大连» and the generic «试点» with dalian-multimodal-single-bill-pilot, and «大连» "
        "and «城市» (智慧城市 vs 国家创新型城市) with dalian-national-innovative-city, at the Dalian city seat (city "
        "precision): a medical-consortium pilot (四.(四).3), a multimodal-transport pilot (七.(六)) and the national "
        "innovative-city designation (二.(二).5) are city-wide items the plan places only in Dalian, so all three sit "
        "on the city seat; not duplicates.",
    ("near_duplicate", "dalian-multimodal-single-bill-pilot"):
        "Shares only the place name «大连» and the generic «试点» with dalian-smart-city-medical-consortium-pilot at the "
        "Dalian city seat (city precision): a multimodal-transport pilot (七.(六)) and a medical-consortium pilot "
        "(四.(四).3), not duplicates.",
    ("near_duplicate", "north-yellow-sea-economic-coop-zone"):
        "Shares «经济合作区» and the Dandong city seat (place_id dandong-city-seat) with "
        "dandong-border-economic-cooperation-zone: the North Yellow Sea economic cooperation zone (七.(九)) spans "
        "Dalian and Dandong and is anchored schematically at the Dandong seat, while the border economic cooperation "
        "zone (四.(一).3) is Dandong's own; not duplicates.",
    # --- part-additions.geojson: city-precision items that now share a city seat with a similar name ---
    ("near_duplicate", "liaoning-equity-exchange"):
        "Shares only «交易» (股权交易中心 vs 证券交易所) and the Shenyang city seat (city precision) with "
        "bse-liaoning-service-base: both are named in the Shenyang item 二.(一).4 without a site, so each is known "
        "only to be in Shenyang and is placed at the city seat; the provincial equity exchange and the Beijing Stock "
        "Exchange's service base are different institutions, not duplicates.",
    ("near_duplicate", "bse-liaoning-service-base"):
        "Shares only «交易» (证券交易所 vs 股权交易中心) and the Shenyang city seat (city precision) with "
        "liaoning-equity-exchange: both are named in the Shenyang item 二.(一).4 without a site, so each is known "
        "only to be in Shenyang and is placed at the city seat; the Beijing Stock Exchange's service base and the "
        "provincial equity exchange are different institutions, not duplicates.",
    ("near_duplicate", "dalian-national-innovative-city"):
        "Shares only «大连» and «城市» (国家创新型城市 vs 智慧城市) and the Dalian city seat (city precision) with "
        "dalian-smart-city-medical-consortium-pilot: the innovative-city designation (二.(二).5) covers the whole "
        "city and the medical-consortium pilot (四.(四).3) is named with Dalian only, so both are city-wide items "
        "placed at the city seat; not duplicates.",
    ("near_duplicate", "high-end-precision-manufacturing-key-lab"):
        "Shares only «高端»/«制造» (高端精密制造 vs 高端制造业) and the Dalian city seat (city precision) with "
        "dalian-high-end-manufacturing-cluster: a national key laboratory (四.(二).1) and a city-wide industry "
        "cluster (二.(二).4), both placed at the city seat because no site is known; not duplicates. For this "
        "laboratory even the city is not given by the plan (四.(二).1 names no host): Dalian is a presumption, "
        "see location_source.",
    ("near_duplicate", "dalian-high-end-manufacturing-cluster"):
        "Shares only «高端»/«制造» (高端制造业 vs 高端精密制造) and the Dalian city seat (city precision) with "
        "high-end-precision-manufacturing-key-lab: Dalian's city-wide 2000亿-yuan industry cluster (二.(二).4) and a "
        "national key laboratory (四.(二).1), both placed at the city seat because no site is known (the "
        "laboratory's Dalian placement is itself a presumption); not duplicates.",
    ("near_duplicate", "jinzhou-regional-central-city"):
        "Shares only «锦州» and «区域» (区域中心城市 vs 区域数据中心) and the Jinzhou city seat (city precision) with "
        "jinzhou-regional-data-centre: the regional-central-city designation (四.(五).1) covers the whole city and "
        "the data centre (四.(四).3) is named with Jinzhou only, so both are known only to be in Jinzhou and are "
        "placed at the city seat; not duplicates.",
    ("near_duplicate", "jinzhou-regional-data-centre"):
        "Shares only «锦州» and «区域» (区域数据中心 vs 区域中心城市) and the Jinzhou city seat (city precision) with "
        "jinzhou-regional-central-city: the data centre (四.(四).3) is named with Jinzhou only and the "
        "regional-central-city designation (四.(五).1) covers the whole city, so both are known only to be in "
        "Jinzhou and are placed at the city seat; not duplicates.",
    ("near_duplicate", "huanren-ginseng-industrial-park"):
        "Shares «桓仁山参» and the Huanren county-seat point with huanren-ginseng-origin-market: the industrial "
        "park (六.(二).3) and the origin market (六.(二).4) are different facilities of one industry, not "
        "duplicates.",
    ("near_duplicate", "huanren-ginseng-origin-market"):
        "Shares «桓仁山参» and the Huanren county-seat point with huanren-ginseng-industrial-park: the origin "
        "market (六.(二).4) and the industrial park (六.(二).3) are different facilities of one industry, not "
        "duplicates.",
})


def summary(n_in, feats, tj, tj_kept, notes_log):
    from collections import Counter
    print("input features: %d (%d parts: three helpers' parts and the additions); output projects: %d" % (
        n_in, len(PARTS), len(feats)))
    for spec in MERGES:
        print("merged -> %s: %s  [%s]" % (spec["id"], ", ".join("%s:%s" % (a[5:-8], b) for a, b in spec["members"]), spec["why"]))
    for a, b, why in NOT_MERGED:
        print("kept apart: %s / %s  [%s]" % (a, b, why))
    print("by category:", dict(sorted(Counter(f["properties"]["category"] for f in feats).items())))
    print("by precision:", dict(sorted(Counter(f["properties"]["location_precision"] for f in feats).items())))
    pts = [f for f in feats if f["geometry"]["type"] == "Point"]
    shared = Counter(tuple(f["geometry"]["coordinates"]) for f in pts)
    print("points: %d at %d coordinates; %d share a coordinate (%d coordinates); place_ids: %s" % (
        len(pts), len(shared), sum(n for n in shared.values() if n > 1), sum(1 for n in shared.values() if n > 1),
        dict(sorted(Counter(f["properties"]["place_id"] for f in feats if f["properties"]["place_id"]).items()))))
    print("parts represented:", sorted({s.split(".")[0] for f in feats for s in f["properties"]["sections"]}))
    print("targets.json: %d -> %d entries; kept in projects and absent from targets.json: %s" % (
        len(tj), len(tj_kept), ", ".join(MOVED_FROM_TARGETS_JSON)))
    print("project targets:", ", ".join("%s (%s)" % (t["id"], f["properties"]["id"])
                                        for f in feats for t in f["properties"]["targets"]))
    print("consistency notes: %d" % len(notes_log))
    for fid, k, v in notes_log:
        print("  %s [%s] %s" % (fid, k, v))


if __name__ == "__main__":
    main()
