"""groklab export --to tensorboard: the event files read back with TensorBoard's own reader."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _results(tmp_path):
    runs = pd.DataFrame([dict(run_id=f"r{i}", problem="sparse-recovery", lr=0.1, l1=b, seed=1,
                              t1=10, t2=[500, None][i], delta_t=[490, None][i],
                              t2_rule=["threshold", "never"][i], final_test_error=[1e-4, 0.8][i],
                              status="done") for i, b in enumerate((1e-3, 0.0))])
    runs = runs.astype({"t1": "Int64", "t2": "Int64", "delta_t": "Int64"})
    steps = np.array([0, 1, 10, 100, 1000])
    curves = pd.DataFrame([dict(run_id=r, step=s, train_error=1 / (1 + s), test_error=k / (2 + s),
                                l1_norm=np.nan if (r == "r1" and s == 100) else 3.0 + s / 7)
                           for k, r in ((1.0, "r0"), (0.5, "r1")) for s in steps])
    out = tmp_path / "res"
    out.mkdir()
    runs.to_parquet(out / "runs.parquet", index=False)
    curves.to_parquet(out / "curves.parquet", index=False)
    return out, runs, curves


def test_tensorboard_round_trip(tmp_path, capsys):
    from groklab.cli import main

    out, runs, curves = _results(tmp_path)
    assert main(["export", str(out), "--to", "tensorboard", "--dest", str(tmp_path / "tb")]) == 0
    assert "wrote 2 runs" in capsys.readouterr().out
    for rid in ("r0", "r1"):
        acc = event_accumulator.EventAccumulator(str(tmp_path / "tb" / rid))
        acc.Reload()
        want = curves[curves.run_id == rid]
        assert set(acc.Tags()["scalars"]) == {"train_error", "test_error", "l1_norm"}
        for col in ("train_error", "test_error", "l1_norm"):
            ev = acc.Scalars(col)
            w = want[np.isfinite(want[col])]  # a non-finite log is left out
            assert [e.step for e in ev] == list(w.step)
            np.testing.assert_allclose([e.value for e in ev], w[col], rtol=1e-7)  # float32
        text = acc.Tensors("run/text_summary")[0].tensor_proto.string_val[0].decode()
        rec = json.loads(text)
        row = runs.set_index("run_id").loc[rid]
        assert rec["run_id"] == rid and rec["l1"] == row.l1 and rec["status"] == "done"
        assert rec["t2"] == (None if pd.isna(row.t2) else int(row.t2))


def test_unknown_target_is_one_line(tmp_path, capsys):
    from groklab.cli import main

    out, _, _ = _results(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["export", str(out), "--to", "csv"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--to" in err and len(err.strip().splitlines()) == 1
