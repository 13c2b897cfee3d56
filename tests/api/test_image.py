"""The default image (issue 13 item 6): the libraries agents reach for
first, from Debian, import inside a sandbox (README lists them)."""
import json

IMAGE_MODULES = {
    "numpy": "numpy", "pandas": "pandas", "matplotlib": "matplotlib", "scipy": "scipy",
    "scikit-learn": "sklearn", "seaborn": "seaborn", "statsmodels": "statsmodels",
    "sympy": "sympy", "plotly": "plotly", "beautifulsoup4": "bs4", "requests": "requests",
    "PyPDF2": "PyPDF2", "xgboost": "xgboost", "Pillow": "PIL", "openpyxl": "openpyxl",
    "xlrd": "xlrd", "reportlab": "reportlab",
}

PROBE = """
import importlib, json, sys
out = {}
for name in sys.argv[1:]:
    m = importlib.import_module(name)
    out[name] = getattr(m, "__version__", "?")
print(json.dumps(out))
"""


def test_every_listed_library_imports(kilnd, sandbox):
    sid = sandbox["id"]
    # Each in its own interpreter, so one library's memory never hides another's failure.
    seen = {}
    for name, module in IMAGE_MODULES.items():
        r = kilnd.post(f"/v1/sandboxes/{sid}/commands",
                       {"cmd": f"python3 -c '{PROBE}' {module}", "timeout_s": 120})
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["exit_code"] == 0, (name, res["stderr"][-2000:])
        seen.update(json.loads(res["stdout"]))
    assert set(seen) == set(IMAGE_MODULES.values())


def test_a_model_fits_and_a_chart_renders_from_the_image(kilnd, sandbox):
    res = kilnd.execute(sandbox["id"], """
import numpy as np, seaborn as sns, matplotlib.pyplot as plt
from sklearn.linear_model import LinearRegression
x = np.arange(20).reshape(-1, 1); y = 3 * x.ravel() + 2
m = LinearRegression().fit(x, y)
sns.lineplot(x=x.ravel(), y=y); plt.show()
round(float(m.coef_[0]), 6), round(float(m.intercept_), 6)
""", timeout_s=120)
    assert res["error"] is None, res["error"]
    kinds = [k for r in res["results"] for k in r]
    assert "png" in kinds, res["results"]
    assert any(r.get("text") == "(3.0, 2.0)" for r in res["results"]), res["results"]
