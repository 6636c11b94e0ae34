"""The study's tiny grid runs end to end, writes its CSV and plot, and resumes."""

import csv
import subprocess
import sys

from PIL import Image

from conftest import ROOT


def test_tiny_study_writes_csv_and_plot_and_resumes(tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, str(ROOT / "tools" / "run_study.py"), "--grid", "tiny", "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    grid = [("2", "1.0", "False"), ("2", "1.0", "True"), ("4", "1.0", "False"), ("4", "1.0", "True")]
    printed = [line for line in first.stdout.splitlines() if line.startswith("[")]
    assert [line.split(":")[0] for line in printed] == [
        f"[{i}/4] latent {int(d):2d} beta {float(b):3.1f} conditional {c:5s}" for i, (d, b, c) in enumerate(grid, 1)]
    rows = list(csv.DictReader(open(out / "study.csv")))
    assert [(r["latent_dim"], r["beta"], r["conditional"]) for r in rows] == grid
    for r in rows:
        # even one epoch on 500 images leaves codes that sort garments far better than chance (0.1)
        assert float(r["knn_accuracy"]) > 0.3 and float(r["linear_probe_accuracy"]) > 0.3
        assert abs(float(r["test_neg_elbo"]) - float(r["test_recon"]) - float(r["test_kl"])) < 1e-3
        assert r["iw_k"] == "4" and r["iw_items"] == "50" and r["train_size"] == "500"
        assert int(r["active_units"]) <= int(r["latent_dim"])
        assert (r["class_match"] != "") == (r["conditional"] == "True") == (r["class_match_prior"] != "")
        assert float(r["frechet_distance"]) > 0 and float(r["frechet_distance_prior"]) > 0
        assert r["frechet_distance"] != r["frechet_distance_prior"]  # mixture draws, then prior draws
    assert Image.open(out / "study.png").size == (1350, 720)  # the 2 x 3 panels at 15 x 8 inches, 90 dpi
    # a second call finds every run in the CSV and trains nothing
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "latent " not in again.stdout and len(list(csv.DictReader(open(out / "study.csv")))) == 4
