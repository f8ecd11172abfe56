"""`caro explain`: a command line in plain words, from the shell parser and the utilities' own docs."""

from pipeline.explain.docs import DocSource
from pipeline.explain.model import Explanation, Option, Redirection, Step, Verdict
from pipeline.explain.steps import explain
from pipeline.explain.structure import Link

__all__ = ["DocSource", "Explanation", "Link", "Option", "Redirection", "Step", "Verdict", "explain"]
