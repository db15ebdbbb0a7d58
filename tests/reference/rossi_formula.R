# Reference values for tests/analysis/test_formula.py (R 4.2, survival 3.5-3, splines).
# Rossi recidivism data (lifelines' bundled copy, as in rossi_clustered.csv).
# Run from the repository root: Rscript tests/reference/rossi_formula.R > tests/reference/rossi_formula.Rout
suppressMessages(library(survival))
library(splines)
d <- read.csv("tests/reference/rossi_clustered.csv")
d$prio_group <- ifelse(d$prio == 0, "0", ifelse(d$prio <= 3, "1-3", "4+"))
show <- function(name, fit) {
  cat(name, "coef", sprintf("%.10f", coef(fit)), "\n")
  cat(name, "se", sprintf("%.10f", sqrt(diag(fit$var))), "\n")
  cat(name, "loglik", sprintf("%.10f", fit$loglik[2]), "\n")
}
# Fox & Weisberg's model (An R Companion to Applied Regression, appendix on Cox regression)
full <- Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio
show("published_efron", coxph(full, data = d, ties = "efron"))
show("published_breslow", coxph(full, data = d, ties = "breslow"))
# dummy coding (reference "0") and an interaction
show("factor_interaction",
     coxph(Surv(week, arrest) ~ fin + age + factor(prio_group) + fin:age, data = d))
# another reference level
d$prio_group2 <- relevel(factor(d$prio_group), ref = "1-3")
show("factor_reference", coxph(Surv(week, arrest) ~ fin + prio_group2, data = d))
# B-spline of age, 4 df (knots at quantiles)
show("bspline", coxph(Surv(week, arrest) ~ fin + bs(age, df = 4) + prio, data = d))
