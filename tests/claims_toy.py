"""User claims for the checker's end-to-end test (``groklab check --claims-file``), on the toy
family of toy_family.py: its delay is ~ ln(1/theta) / (lr beta), so the exponent of Delta t
against lr * beta is -1 (passes), not -2 (fails); asking for 100 detected runs of a 6-run grid
is inconclusive."""
from groklab.claims import Claim, grid_recipe, measures as M, rules as R

TOY = grid_recipe("toy-grid", "toy-shrinkage",
                  quick=[dict(lr=[0.3, 0.6], beta=[1e-2, 3e-2, 1e-1], steps=5000,
                              log_dense_until=100, log_every=2)],
                  draw=False)  # no picture: the HTML tests check pictures, this one the checker


def delay(ev):
    runs = M.evidence(ev, "toy-grid").runs
    return M.delay_fit((runs.lr * runs.beta).to_numpy(float), M.col(runs, "delta_t"),
                       runs.steps.to_numpy(float), M.col(runs, "t1"))


CLAIMS = [
    Claim("toy.delay", "The toy's delay scales as 1/(lr beta).", ("toy",), (TOY,), delay,
          R.all_of(R.needs("n", 5), R.contains("exponent_low", "exponent_high", -1.0, tol=0.05))),
    Claim("toy.wrong", "The toy's delay scales as 1/(lr beta)^2.", ("toy",), (TOY,), delay,
          R.all_of(R.needs("n", 5), R.contains("exponent_low", "exponent_high", -2.0, tol=0.05))),
    Claim("toy.too-few", "Needs more runs than the grid has.", ("toy",), (TOY,), delay,
          R.all_of(R.needs("n", 100), R.at_most("exponent", 0.0))),
]
