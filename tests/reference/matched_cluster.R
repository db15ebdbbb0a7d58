# Reference values for tests/analysis/test_matched_variance.py (R 4.2, survival 3.5-3).
# matched_shared.csv: 120 matched sets of 5 (1 exposed, 4 controls) drawn from 260 persons, so
# persons recur across sets in any role; `case` has at most one case per set (exact = Efron).
# Run from the repository root: Rscript tests/reference/matched_cluster.R > tests/reference/matched_cluster.Rout
suppressMessages(library(survival))
d <- read.csv("tests/reference/matched_shared.csv")
out <- function(label, v) cat(label, sprintf("%.10f", v), "\n")
# set-stratified Cox, person-clustered (Lin-Wei) robust variance, robust score test
f <- coxph(Surv(time, event) ~ exposed + age + strata(set_id) + cluster(id), data = d,
           ties = "efron")
out("cox coef", coef(f))
out("cox model_se", sqrt(diag(f$naive.var)))
out("cox robust_se", sqrt(diag(f$var)))
out("cox rscore", f$rscore)
# the same fit clustered on the set (no person shared between clusters)
g <- coxph(Surv(time, event) ~ exposed + age + strata(set_id) + cluster(set_id), data = d,
           ties = "efron")
out("cox_set robust_se", sqrt(diag(g$var)))
out("cox_set rscore", g$rscore)
# conditional logistic regression: exact likelihood (model SE) and, with at most one case per
# set, Efron = exact for the person-clustered robust SE (clogit refuses robust + exact)
e <- clogit(case ~ exposed + age + strata(set_id), data = d)
out("clogit coef", coef(e))
out("clogit model_se", sqrt(diag(e$var)))
r <- clogit(case ~ exposed + age + strata(set_id) + cluster(id), data = d, method = "efron")
out("clogit_efron coef", coef(r))
out("clogit robust_se", sqrt(diag(r$var)))
s <- clogit(case ~ exposed + age + strata(set_id) + cluster(set_id), data = d, method = "efron")
out("clogit_set robust_se", sqrt(diag(s$var)))
# robust score (log-rank-type) tests of exposure alone, Breslow ties: clustered on person / set
b <- coxph(Surv(time, event) ~ exposed + strata(set_id) + cluster(id), data = d, ties = "breslow")
out("logrank_id rscore", b$rscore)
bs <- coxph(Surv(time, event) ~ exposed + strata(set_id) + cluster(set_id), data = d,
            ties = "breslow")
out("logrank_set rscore", bs$rscore)
