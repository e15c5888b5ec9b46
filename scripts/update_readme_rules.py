"""Regenerate the README's rule table from the registry: python3 scripts/update_readme_rules.py"""

from __future__ import annotations

import re
from pathlib import Path

from cdp_cli.cli.rules import rules_markdown

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text(encoding="utf-8")
new = re.sub(r"<!-- rules:start -->\n.*?<!-- rules:end -->",
             lambda m: "<!-- rules:start -->\n" + rules_markdown() + "<!-- rules:end -->", text, flags=re.S)
readme.write_text(new, encoding="utf-8")
print("README rule table is", "unchanged" if new == text else "updated")
