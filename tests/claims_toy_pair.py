"""Two toy recipes for the checker's parallel test (tests/test_check_parallel.py): the same
delay claim on two grids, so ``--jobs 2`` has two recipes to run side by side."""
from groklab.claims import Claim, grid_recipe, measures as M, rules as R

GRIDS = {"toy-a": dict(lr=[0.3, 0.6], beta=[1e-2, 3e-2, 1e-1]),
         "toy-b": dict(lr=[0.2, 0.4], beta=[2e-2, 5e-2, 1e-1])}
RECIPES = {name: grid_recipe(name, "toy-shrinkage", quick=[dict(g, steps=3000, log_dense_until=100,
                                                                log_every=2)], draw=False)
           for name, g in GRIDS.items()}


def delay_of(name):
    def measure(ev):
        runs = M.evidence(ev, name).runs
        return M.delay_fit((runs.lr * runs.beta).to_numpy(float), M.col(runs, "delta_t"),
                           runs.steps.to_numpy(float), M.col(runs, "t1"))
    return measure


CLAIMS = [Claim(f"pair.{name}", "The toy's delay scales as 1/(lr beta).", ("toy",),
                (recipe,), delay_of(name),
                R.all_of(R.needs("n", 5), R.contains("exponent_low", "exponent_high", -1.0,
                                                     tol=0.05)))
          for name, recipe in RECIPES.items()]
