"""The study's tiny grid runs end to end and writes its CSV and plot."""

import csv
import subprocess
import sys

from conftest import ROOT


def test_tiny_study_writes_csv_and_plot_and_resumes(tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, str(ROOT / "scripts" / "run_study.py"), "--grid", "tiny", "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert first.stdout.count("latent ") == 4
    rows = list(csv.DictReader(open(out / "study.csv")))
    assert [(r["latent_dim"], r["beta"], r["conditional"]) for r in rows] == [
        ("2", "1.0", "False"), ("2", "1.0", "True"), ("4", "1.0", "False"), ("4", "1.0", "True")]
    for r in rows:
        assert 0 <= float(r["knn_accuracy"]) <= 1 and 0 <= float(r["linear_probe_accuracy"]) <= 1
        assert abs(float(r["test_neg_elbo"]) - float(r["test_recon"]) - float(r["test_kl"])) < 1e-3
        assert r["iw_k"] == "4" and r["iw_items"] == "50" and r["train_size"] == "500"
        assert (r["class_match"] != "") == (r["conditional"] == "True") == (r["class_match_prior"] != "")
        assert float(r["frechet_distance"]) > 0 and float(r["frechet_distance_prior"]) > 0
        assert r["frechet_distance"] != r["frechet_distance_prior"]  # mixture draws, then prior draws
    assert (out / "study.png").stat().st_size > 10000
    # a second call finds every run in the CSV and trains nothing
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "latent " not in again.stdout and len(list(csv.DictReader(open(out / "study.csv")))) == 4
