#!/usr/bin/python3
"""Headless QGIS (Debian 12's PyQGIS 3.22) against a running planatlas server.

Run with Debian's system Python, which is the one python3-qgis is built for (not a venv, not pyenv):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis/qgis_test.py http://127.0.0.1:PORT

Install (Debian 12, as root; python3-qgis pulls in qgis-providers, which holds the OAPIF and OGR providers,
and nothing else is needed to run headless with QT_QPA_PLATFORM=offscreen):

    apt-get install -y --no-install-recommends python3-qgis

Set QGIS_TEST_OUT=/some/dir to keep the rendered PNGs.

What it checks, one line per check (PASS / FAIL / INFO), exiting 1 on any FAIL:
 1. QgsApplication starts without a GUI.
 2. OGC API - Features through QGIS's OAPIF provider: `projects`, `projects-points`, `projects-lines` load,
    their counts match the server's numberMatched, points + lines = projects, and each draws into a QImage.
 3. Every export (/exports/{collection}.{ext} for each collection and format, and each layer of
    /exports/planatlas.gpkg) opens by URL through GDAL's /vsicurl/ in QGIS's OGR provider with the server's
    numberMatched; formats the server refuses for a collection (KML/FlatGeobuf/Shapefile of a collection
    without geometries, a Shapefile of mixed geometry types) must be refused with a 400 problem.
 4. Every feature layer of planatlas.gpkg has an R-tree spatial index (gpkg_extensions 'gpkg_rtree_index'
    plus the rtree_<table>_<column> table, and OGR's hasSpatialIndex() == SpatialIndexPresent) and a default
    style (layer_styles row with useAsDefault=1) that QGIS finds (listStylesInDatabase, getStyleFromDatabase,
    QgsProviderRegistry.loadStyle) and applies when it opens the layer, downloaded and by /vsicurl/: the
    renderer the stored QML names, not QGIS's singleSymbol default; regions and projects classified
    (categorized, or rule-based with a rule per class); each layer draws with it.
 5. /exports/planatlas.qgz opens as a QGIS project: Web Mercator, the map page's five layers read live over
    OAPIF from this server, each valid with the server's count, styled with classes and labels, drawing.

What QGIS 3.22's OAPIF provider does with the mixed `projects` collection (measured when it held 236: 199 Points + 37 LineStrings;
it now holds 245: 207 Points + 38 LineStrings), as this script measures it (see the INFO lines):
  - QgsOapifProvider::init() asks for `items?limit=10` once and takes the layer's geometry type from that
    first page, as OGR's GeoJSON driver reads it (QgsOapifItemsRequest::wkbType()); OAPIF has no
    per-geometry-type split in 3.22. The first ten projects are points, so the layer is typed Point.
  - It still downloads every feature: featureCount() is numberMatched (236) and getFeatures() returns all
    236, the 37 lines with their LineString geometry intact.
  - But the layer gets a marker-symbol renderer, and QGIS's feature renderer draws a line geometry only with
    a line symbol, so the 37 lines are never drawn: rendering only the line features of that layer gives a
    blank image. Only 199 of 236 features show on the map. The typed `projects-points` (Point) and
    `projects-lines` (LineString) collections are the way to see all of them in QGIS 3.22.
The mixed files (projects.geojson/.geojsons/.csv/.kml/.fgb/.gpkg and planatlas.gpkg|projects) are different:
QGIS's OGR provider also types the plain layer Point (from its first feature) with all 236 features, but
lists one sublayer per geometry type (`|geometrytype=Point` 199, `|geometrytype=LineString` 37), which is
what QGIS's "select items to add" dialog offers; and the GeoPackage's rule-based default style has line
symbols for the line rules, which draw lines even in the Point-typed layer.
"""

import os
import re
import sqlite3
import sys
import tempfile
import traceback
import urllib.error
import urllib.parse
import urllib.request
import functools
import json

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsFeatureSource,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProviderRegistry,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage

if len(sys.argv) != 2 or not sys.argv[1].startswith("http"):
    sys.exit("usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis/qgis_test.py http://127.0.0.1:PORT")
BASE = sys.argv[1].rstrip("/")
OUT = os.environ.get("QGIS_TEST_OUT")

FORMATS = ["geojson", "geojsons", "csv", "kml", "fgb", "gpkg", "shp.zip"]
NEEDS_GEOMETRY = {"kml", "fgb", "shp.zip"}
# Layers of planatlas.gpkg whose default style must classify (colour by region, by project category): a
# categorized renderer, or a rule-based one with a rule per class.
CLASSIFIED = {"regions", "projects"}

failures = []


def report(status, name, detail=""):
    print(f"{status} {name}" + (f": {detail}" if detail else ""), flush=True)


def check(name, ok, detail=""):
    report("PASS" if ok else "FAIL", name, detail)
    if not ok:
        failures.append(name)
    return ok


def info(name, detail):
    report("INFO", name, detail)


# ---------------------------------------------------------------------------------------------------------
# The server's own answers (urllib, no QGIS)


def http(path, method="GET"):
    url = path if path.startswith("http") else BASE + path
    req = urllib.request.Request(url, method=method, headers={"Accept": "application/geo+json, application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(path):
    status, _, body = http(path)
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


_matched = {}


def number_matched(collection):
    if collection not in _matched:
        _matched[collection] = get_json(f"/collections/{urllib.parse.quote(collection)}/items?limit=1")[
            "numberMatched"
        ]
    return _matched[collection]


@functools.lru_cache(maxsize=None)
def geometry_families(collection):
    """The geometry families ('point', 'line', 'polygon') of every feature, paging through items."""
    families, url, pages = set(), f"/collections/{urllib.parse.quote(collection)}/items?limit=1000", 0
    while url and pages < 100:
        page = get_json(url)
        pages += 1
        for f in page.get("features", []):
            t = (f.get("geometry") or {}).get("type")
            if t:
                families.add("point" if "Point" in t else "line" if "LineString" in t else "polygon")
        url = next((l["href"] for l in page.get("links", []) if l.get("rel") == "next"), None)
    return frozenset(families)


# ---------------------------------------------------------------------------------------------------------
# QGIS helpers


def wkb_name(layer):
    return QgsWkbTypes.displayString(layer.wkbType())


def oapif_layer(typename):
    uri = f"url='{BASE}' typename='{typename}' hideDownloadProgressDialog='1'"
    return QgsVectorLayer(uri, typename, "OAPIF")


def render(layers, name):
    """Draws the layers into a 600x600 image; returns the number of non-background pixels."""
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:4326"))
    extent = QgsRectangle()
    for l in layers:
        e = l.extent()
        if extent.isNull():
            extent = QgsRectangle(e)
        else:
            extent.combineExtentWith(e)
    extent.scale(1.1)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(600, 600))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    errors = [f"{e.layerID}: {e.message}" for e in job.errors()]
    img = job.renderedImage().convertToFormat(QImage.Format_RGB32)
    if OUT:
        os.makedirs(OUT, exist_ok=True)
        img.save(os.path.join(OUT, f"{name}.png"))
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    white = QColor(255, 255, 255).rgb()
    drawn = sum(1 for v in memoryview(bytes(ptr)).cast("I") if v != white)
    return drawn, errors


def count_by_geometry(layer):
    counts = {}
    for f in layer.getFeatures(QgsFeatureRequest().setNoAttributes()):
        g = f.geometry()
        key = "null" if g.isNull() else QgsWkbTypes.geometryDisplayString(g.type())
        counts[key] = counts.get(key, 0) + 1
    return counts


def ogr_layer(source, name):
    return QgsVectorLayer(source, name, "ogr")


# subLayers() entries are "index!!::!!name!!::!!count!!::!!geometry type!!::!!geometry column!!::!!driver".
SUBLAYER_SEPARATOR = "!!::!!"


# ---------------------------------------------------------------------------------------------------------
# 2. OGC API - Features through the OAPIF provider


def check_oapif():
    total = number_matched("projects")
    mixed = oapif_layer("projects")
    if check("OAPIF projects layer is valid", mixed.isValid(), mixed.dataProvider().error().message() if mixed.dataProvider() else ""):
        counts = count_by_geometry(mixed)
        fetched = sum(counts.values())
        info("OAPIF projects (mixed collection)", f"QGIS types it as {wkb_name(mixed)}; features fetched by geometry {counts}")
        check("OAPIF projects featureCount() equals numberMatched", mixed.featureCount() == total, f"{mixed.featureCount()} vs {total}")
        check("OAPIF projects fetches every feature", fetched == total, f"{fetched} vs {total}")
        drawn, errors = render([mixed], "oapif-projects")
        check("OAPIF projects draws", drawn > 0 and not errors, f"{drawn} pixels drawn, errors {errors}")
        lines_only = oapif_layer("projects")
        lines_only.setSubsetString("geometry_type($geometry) = 'Line'")
        n_lines = sum(1 for _ in lines_only.getFeatures(QgsFeatureRequest().setNoAttributes()))
        drawn_lines, _ = render([lines_only], "oapif-projects-lines-only")
        info(
            "OAPIF projects line features",
            f"{n_lines} LineStrings in the {wkb_name(mixed)} layer; drawing only them gives {drawn_lines} pixels"
            + (" (QGIS does not draw them: a marker symbol draws no lines)" if drawn_lines == 0 else ""),
        )
    typed = {}
    for name, geom in (("projects-points", QgsWkbTypes.PointGeometry), ("projects-lines", QgsWkbTypes.LineGeometry)):
        layer = oapif_layer(name)
        if not check(f"OAPIF {name} layer is valid", layer.isValid()):
            continue
        n = number_matched(name)
        fetched = sum(1 for _ in layer.getFeatures(QgsFeatureRequest().setNoAttributes()))
        check(f"OAPIF {name} is a {QgsWkbTypes.geometryDisplayString(geom)} layer", layer.geometryType() == geom, wkb_name(layer))
        check(f"OAPIF {name} featureCount() and features fetched equal numberMatched", layer.featureCount() == n == fetched,
              f"featureCount {layer.featureCount()}, fetched {fetched}, numberMatched {n}")
        drawn, errors = render([layer], f"oapif-{name}")
        check(f"OAPIF {name} draws", drawn > 0 and not errors, f"{drawn} pixels drawn, errors {errors}")
        typed[name] = (layer, fetched)
    if len(typed) == 2:
        points, lines = typed["projects-points"][1], typed["projects-lines"][1]
        check("OAPIF projects-points + projects-lines = projects", points + lines == total, f"{points} + {lines} vs {total}")
        drawn, errors = render([typed["projects-lines"][0], typed["projects-points"][0]], "oapif-projects-typed")
        check("OAPIF projects-points and projects-lines draw together", drawn > 0 and not errors, f"{drawn} pixels")


# ---------------------------------------------------------------------------------------------------------
# 3. Exports by URL


def export_links():
    """Export URLs the server advertises in its collection documents (none today: they are built below)."""
    found = set()
    for c in get_json("/collections")["collections"]:
        for l in c.get("links", []):
            if "/exports/" in l.get("href", ""):
                found.add(l["href"])
    return found


def vsi_source(url):
    return f"/vsizip//vsicurl/{url}" if url.endswith(".zip") else f"/vsicurl/{url}"


def check_exports(collections):
    advertised = export_links()
    if advertised:
        info("exports advertised in collection links", ", ".join(sorted(advertised)))
    for c in collections:
        families = geometry_families(c)
        n = number_matched(c)
        for ext in FORMATS:
            url = f"{BASE}/exports/{urllib.parse.quote(c)}.{ext}"
            advertised.discard(url)
            expected_ok = not (ext in NEEDS_GEOMETRY and not families) and not (ext == "shp.zip" and len(families) > 1)
            status, headers, body = http(url, "HEAD")
            if not expected_ok:
                status, headers, body = http(url)
                detail = ""
                try:
                    detail = json.loads(body).get("detail", "")
                except Exception:
                    pass
                check(f"export {c}.{ext} refused (geometries: {sorted(families) or 'none'})", status == 400, f"HTTP {status}: {detail}")
                continue
            if not check(f"export {c}.{ext} HEAD 200 with Content-Length", status == 200 and headers.get("Content-Length"),
                         f"HTTP {status}"):
                continue
            layer = ogr_layer(vsi_source(url), f"{c}.{ext}")
            if not check(f"QGIS opens {vsi_source(url)}", layer.isValid(), layer.dataProvider().error().message() if layer.dataProvider() else ""):
                continue
            subs = [s.split(SUBLAYER_SEPARATOR) for s in layer.dataProvider().subLayers()]
            count = layer.featureCount()
            check(f"QGIS {c}.{ext} featureCount() equals numberMatched", count == n,
                  f"{count} vs {n} ({wkb_name(layer)}, {len(subs)} sublayer(s))")
            if families:
                # A CSV's CRS comes from the .prj served beside it, as every other format carries its own (QGIS
                # names the CSV's ESRI WGS 84 as OGC:CRS84, the same longitude-first CRS).
                check(f"QGIS {c}.{ext} has its CRS", layer.crs().authid() in ("EPSG:4326", "OGC:CRS84"),
                      layer.crs().authid() or "none")
            if c == "projects" and ext == "csv":
                # Its column types come from the .csvt beside it (they were all text without it).
                fields = layer.fields()
                kinds = {f: fields.field(f).typeName() for f in ("investment_total", "city_wide", "progress_as_of")}
                check("QGIS projects.csv types its columns from the .csvt",
                      kinds["investment_total"] == "Real" and kinds["progress_as_of"] == "Date"
                      and kinds["city_wide"] != "String", str(kinds))
            if len(families) > 1:
                check_geometry_split(f"{c}.{ext}", vsi_source(url), layer, subs, n)
    for url in sorted(advertised):
        layer = ogr_layer(vsi_source(url), url)
        check(f"QGIS opens advertised export {url}", layer.isValid())


def check_geometry_split(name, source, layer, subs, n):
    """A mixed-geometry file: QGIS types the plain layer by its first feature; the OGR provider offers one
    sublayer per geometry type (what QGIS's 'select items to add' dialog lists), which must hold them all."""
    info(f"QGIS {name} (mixed geometries)", f"opened plainly it is typed {wkb_name(layer)}; sublayers "
         + ", ".join(f"{s[1]} {s[3]} ({s[2]})" for s in subs))
    total = 0
    for s in subs:
        typed = ogr_layer(f"{source}|geometrytype={s[3]}", f"{name} {s[3]}")
        total += typed.featureCount() if typed.isValid() else 0
    check(f"QGIS {name}: the per-geometry-type sublayers hold every feature", total == n and len(subs) > 1,
          f"{total} vs {n} over {len(subs)} sublayers")


# ---------------------------------------------------------------------------------------------------------
# 3 and 4. The whole-plan GeoPackage


def renderer_type_in_qml(qml):
    m = re.search(r"<renderer-v2\b[^>]*\btype=\"([^\"]+)\"", qml or "")
    return m.group(1) if m else None


def check_gpkg(collections):
    url = f"{BASE}/exports/planatlas.gpkg"
    status, _, body = http(url)
    if not check("export planatlas.gpkg downloads", status == 200, f"HTTP {status}, {len(body)} bytes"):
        return
    tmp = tempfile.mkdtemp(prefix="planatlas-qgis-")
    local = os.path.join(tmp, "planatlas.gpkg")
    with open(local, "wb") as f:
        f.write(body)
    db = sqlite3.connect(f"file:{local}?mode=ro", uri=True)
    tables = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents"))
    geom_cols = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    master = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    info("planatlas.gpkg contents", ", ".join(f"{t} ({d})" for t, d in tables.items()))

    whole = ogr_layer(f"/vsicurl/{url}", "planatlas")
    names = [s.split(SUBLAYER_SEPARATOR)[1] for s in whole.dataProvider().subLayers()] if whole.isValid() else []
    check("QGIS lists the sublayers of /vsicurl/ planatlas.gpkg", whole.isValid() and bool(names), ", ".join(names))
    for t in tables:
        if t == "layer_styles":
            continue
        if t not in collections:
            info(f"planatlas.gpkg layer {t}", "has no collection of that name; count not compared")
            continue
        layer = ogr_layer(f"/vsicurl/{url}|layername={t}", t)
        n = number_matched(t)
        if check(f"QGIS opens /vsicurl/ planatlas.gpkg|layername={t}", layer.isValid()):
            check(f"QGIS planatlas.gpkg|{t} featureCount() equals numberMatched", layer.featureCount() == n,
                  f"{layer.featureCount()} vs {n} ({wkb_name(layer)})")
    for c in ("regions", "cities", "counties", "projects", "targets", "sections"):
        if c in collections:
            check(f"planatlas.gpkg has a layer {c}", c in tables)

    # 4. Spatial index and default style of every feature layer.
    has_styles = "layer_styles" in master
    check("planatlas.gpkg has a layer_styles table", has_styles)
    for t, col in geom_cols.items():
        if t in collections and len(geometry_families(t)) > 1:
            plain = ogr_layer(f"/vsicurl/{url}|layername={t}", t)
            check_geometry_split(f"planatlas.gpkg|{t}", f"/vsicurl/{url}|layername={t}", plain,
                                 [s.split(SUBLAYER_SEPARATOR) for s in plain.dataProvider().subLayers()], number_matched(t))
        ext = db.execute(
            "SELECT count(*) FROM gpkg_extensions WHERE lower(table_name) = lower(?) AND lower(column_name) = lower(?)"
            " AND extension_name = 'gpkg_rtree_index'", (t, col)).fetchone()[0] if "gpkg_extensions" in master else 0
        rtree = f"rtree_{t}_{col}" in master
        check(f"gpkg {t}: gpkg_rtree_index extension and rtree table", ext == 1 and rtree,
              f"gpkg_extensions rows {ext}, table rtree_{t}_{col} {'present' if rtree else 'missing'}")
        for where, source in (("downloaded", f"{local}|layername={t}"), ("/vsicurl/", f"/vsicurl/{url}|layername={t}")):
            layer = ogr_layer(source, t)
            si = layer.hasSpatialIndex() if layer.isValid() else None
            check(f"gpkg {t} ({where}): OGR provider hasSpatialIndex() is SpatialIndexPresent",
                  si == QgsFeatureSource.SpatialIndexPresent, f"got {si} (0 unknown, 1 not present, 2 present)")

        stored = []
        if has_styles:
            stored = db.execute(
                "SELECT styleName, useAsDefault, styleQML FROM layer_styles WHERE f_table_name = ?", (t,)).fetchall()
        defaults = [s for s in stored if s[1] in (1, "1", True, "true")]
        if not check(f"gpkg {t}: layer_styles has a default style (useAsDefault=1)", len(defaults) >= 1,
                     f"{len(stored)} style(s), {len(defaults)} default"):
            continue
        qml_type = renderer_type_in_qml(defaults[0][2])
        for where, source in (("downloaded", f"{local}|layername={t}"), ("/vsicurl/", f"/vsicurl/{url}|layername={t}")):
            layer = ogr_layer(source, t)  # LayerOptions.loadDefaultStyle is True: the stored default applies
            if not layer.isValid():
                check(f"gpkg {t} ({where}) opens", False)
                continue
            n_related, ids, style_names, _, err = layer.listStylesInDatabase()
            check(f"gpkg {t} ({where}): listStylesInDatabase() finds its style", n_related >= 1,
                  f"{n_related} related: {style_names[:n_related]} {err}")
            if n_related >= 1:
                qml, err = layer.getStyleFromDatabase(ids[0])
                check(f"gpkg {t} ({where}): getStyleFromDatabase() returns QML", "<qgis" in qml, err)
            default_qml = QgsProviderRegistry.instance().loadStyle("ogr", layer.source(), "")
            check(f"gpkg {t} ({where}): QgsProviderRegistry.loadStyle() returns the default", "<qgis" in (default_qml or ""))
            msg, ok = layer.loadDefaultStyle()
            check(f"gpkg {t} ({where}): loadDefaultStyle() succeeds", ok, msg)
            r = layer.renderer()
            got = r.type() if r else None
            classes = 0
            if got == "categorizedSymbol":
                classes = len(r.categories())
            elif got == "RuleRenderer":
                classes = len(r.rootRule().children())
            detail = f"renderer {got} with {classes} classes/rules, stored QML says {qml_type}"
            check(f"gpkg {t} ({where}): renderer is the stored default, not QGIS's single-symbol default",
                  got is not None and got == qml_type and got != "singleSymbol", detail)
            if t in CLASSIFIED:
                check(f"gpkg {t} ({where}): the default style classifies (categorized, or rule-based by class)",
                      got in ("categorizedSymbol", "RuleRenderer") and classes >= 2, detail)
            if where == "downloaded":
                drawn, errors = render([layer], f"gpkg-{t}")
                check(f"gpkg {t}: draws with its default style", drawn > 0 and not errors, f"{drawn} pixels, errors {errors}")
                if t in collections and len(geometry_families(t)) > 1:
                    points = ogr_layer(f"{source}|geometrytype=Point", t)
                    drawn_points, _ = render([points], f"gpkg-{t}-points")
                    check(f"gpkg {t}: opened whole (typed {wkb_name(layer)}), its default style still draws the lines",
                          drawn > drawn_points, f"{drawn} pixels with the lines, {drawn_points} for the points alone")
    db.close()


# ---------------------------------------------------------------------------------------------------------


def check_qgz():
    from qgis.core import QgsProject

    status, _, body = http("/exports/planatlas.qgz")
    if not check("planatlas.qgz downloads", status == 200 and body[:2] == b"PK", f"HTTP {status}, {len(body)} bytes"):
        return
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "planatlas.qgz")
        with open(path, "wb") as f:
            f.write(body)
        project = QgsProject.instance()
        if not check("QGIS reads planatlas.qgz", project.read(path), project.error()):
            return
        check("the project is in Web Mercator", project.crs().authid() == "EPSG:3857", project.crs().authid())
        layers = {l.source().split("typename='")[-1].rstrip("'").split("'")[0]: l for l in project.mapLayers().values()}
        expected = ["projects-points", "projects-lines", "regions", "cities", "counties"]
        check("it has the map's five layers", sorted(layers) == sorted(expected), ", ".join(sorted(layers)))
        for c in expected:
            l = layers.get(c)
            if l is None:
                continue
            ok = l.isValid() and l.providerType() == "OAPIF" and BASE in l.source()
            check(f"qgz {c}: a valid OAPIF layer on this server", ok, l.source())
            check(f"qgz {c}: {number_matched(c)} features", l.featureCount() == number_matched(c), str(l.featureCount()))
            r = l.renderer()
            rules = len(r.rootRule().children()) if r and r.type() == "RuleRenderer" else 0
            check(f"qgz {c}: styled by rules", rules >= (2 if c in ("regions", "projects-points", "projects-lines") else 1),
                  f"{r.type() if r else None}, {rules} rules")
            if c in ("projects-points", "projects-lines", "regions", "cities"):
                check(f"qgz {c}: labelled from name_zh", l.labelsEnabled() and l.labeling() is not None
                      and l.labeling().settings().fieldName == "name_zh")
        settings = QgsMapSettings()
        settings.setLayers([layers[c] for c in expected if c in layers])
        settings.setDestinationCrs(project.crs())
        view = project.viewSettings().defaultViewExtent()
        check("the project opens on Liaoning", not view.isNull() and 13.0e6 < view.center().x() < 14.1e6
              and 4.6e6 < view.center().y() < 5.4e6, view.toString())
        settings.setExtent(QgsRectangle(view) if not view.isNull() else settings.fullExtent())
        settings.setOutputSize(QSize(700, 600))
        settings.setBackgroundColor(QColor(255, 255, 255))
        job = QgsMapRendererParallelJob(settings)
        job.start()
        job.waitForFinished()
        img = job.renderedImage().convertToFormat(QImage.Format_RGB32)
        if OUT:
            img.save(os.path.join(OUT, "qgz.png"))
        ptr = img.constBits()
        ptr.setsize(img.sizeInBytes())
        white = QColor(255, 255, 255).rgb()
        drawn = sum(1 for v in memoryview(bytes(ptr)).cast("I") if v != white)
        check("the project draws", drawn > 5000, f"{drawn} non-white pixels")
        project.clear()


def main():
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)  # False: no GUI
    app.initQgis()
    providers = QgsProviderRegistry.instance().providerList()
    check("QgsApplication started headless with the OAPIF and OGR providers",
          "OAPIF" in providers and "ogr" in providers, f"QGIS {Qgis.QGIS_VERSION}, platform {os.environ.get('QT_QPA_PLATFORM')}")
    try:
        collections = [c["id"] for c in get_json("/collections")["collections"]]
        info("collections", ", ".join(f"{c} ({number_matched(c)})" for c in collections))
        for step in (check_oapif, lambda: check_exports(collections), lambda: check_gpkg(collections), check_qgz):
            try:
                step()
            except Exception:
                check("no exception", False, traceback.format_exc().strip().replace("\n", " | "))
    finally:
        n = len(failures)
        print(f"{n} check(s) failed" + (": " + "; ".join(failures) if n else ""), flush=True)
        app.exitQgis()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
