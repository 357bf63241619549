"""Conformance: the contract's rule table, findings, and the checks that produce them."""

from emulator.conformance.findings import Finding, Severity, worst
from emulator.conformance.rules import AMBIGUITIES, RULES, Rule, rule

__all__ = ["AMBIGUITIES", "RULES", "Finding", "Rule", "Severity", "rule", "worst"]
