"""caro's safety validator: three tiers as data (configs/safety_*.toml) and the engine that applies them."""

from pipeline.safety.engine import MAX_DEPTH, assess
from pipeline.safety.rules import Rule, RuleSet, default_rules_path
from pipeline.safety.targets import Target, classify

__all__ = ["MAX_DEPTH", "Rule", "RuleSet", "Target", "assess", "classify", "default_rules_path"]
