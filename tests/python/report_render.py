# SPDX-License-Identifier: MIT
"""Renders a report.html in headless Chromium and checks what a reader would see: the page's
images all exist, and the screenshot is a PNG of the window's width that is not blank.

Used by test_lab.py (the report of a real `numlab lab` run) and test_reference_reports.py (the
reports of the committed GPU reference files)."""
import html.parser
import os
import shutil
import subprocess
import urllib.parse

WIDTH = 1280


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.srcs.append(a["src"])
        if tag == "a" and a.get("href", "").lower().endswith((".png", ".svg", ".jpg")):
            self.srcs.append(a["href"])


def image_references(html_path):
    """The images report.html shows or links (img src, a href to an image), as local paths; the
    missing ones."""
    p = _Images()
    with open(html_path, encoding="utf-8") as f:
        p.feed(f.read())
    base = os.path.dirname(os.path.abspath(html_path))
    paths, missing = [], []
    for src in p.srcs:
        u = urllib.parse.urlparse(src)
        if u.scheme in ("http", "https", "data"):
            continue
        path = urllib.parse.unquote(u.path)
        path = path if os.path.isabs(path) else os.path.join(base, path)
        paths.append(path)
        if not os.path.isfile(path):
            missing.append(src)
    return paths, missing


def png_stats(path):
    """(width, height, std of the grey levels, share of non-white pixels) of a PNG."""
    import matplotlib.image as mpimg
    import numpy as np
    im = mpimg.imread(path)
    rgb = im[..., :3] if im.ndim == 3 else np.stack([im] * 3, axis=-1)
    return rgb.shape[1], rgb.shape[0], float(rgb.std()), float(np.mean(rgb.min(axis=-1) < 0.92))


def screenshot(chrome, html_path, png_path, work, height=3000):
    """chromium --headless --screenshot of report.html at WIDTH x height; returns the exit code."""
    profile = os.path.join(work, "chromium-profile")
    cmd = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
           f"--window-size={WIDTH},{height}", f"--screenshot={png_path}", "file://" + os.path.abspath(html_path)]
    rc = None
    for _ in range(2):  # a first start in a fresh profile occasionally exits before drawing
        if os.path.exists(png_path):
            os.remove(png_path)
        try:
            rc = subprocess.run(cmd, cwd=work, env=dict(os.environ, HOME=work), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=180).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        if os.path.isfile(png_path) and os.path.getsize(png_path) > 0:
            break
    return rc


def check_report(check, chrome, html_path, png_path, work, what):
    """Every check of a rendered report, through check(condition, message)."""
    if not check(os.path.isfile(html_path), f"{what}: {html_path} exists"):
        return
    imgs, missing = image_references(html_path)
    check(len(imgs) > 0, f"{what}: report.html shows {len(imgs)} images")
    check(not missing, f"{what}: every image report.html references exists (missing: {missing[:5]})")
    rc = screenshot(chrome, html_path, png_path, work)
    if not check(os.path.isfile(png_path), f"{what}: chromium wrote {png_path} (exit {rc})"):
        return
    with open(png_path, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{what}: the screenshot is a PNG")
    w, h, std, nonwhite = png_stats(png_path)
    check(w == WIDTH, f"{what}: the screenshot is {w} px wide (window {WIDTH})")
    check(std > 0.05 and nonwhite > 0.02, f"{what}: the screenshot is not blank (std {std:.3f}, non-white "
          f"{nonwhite:.3f})")
