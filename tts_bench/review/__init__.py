"""Human review of a run's outputs: a blinded, stratified sample exported as a keyboard-driven
page and a CSV (`export`), the labels read back and stored in the run directory (`labels`).
The analysis compares them with the automatic verdicts (`analysis.agreement`) and corrects
the accuracy with them (`analysis.ppi`). See docs/judging.md."""
