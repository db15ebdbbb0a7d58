# Reference values for tests/analysis/test_cox_reference.py (R 4.2, survival 3.5-3).
# Rossi recidivism data (lifelines' bundled copy) with clusters of 3 consecutive rows.
# Run: Rscript tests/reference/rossi_robust_efron.R
suppressMessages(library(survival))
d <- read.csv("tests/reference/rossi_clustered.csv")
fit <- coxph(Surv(week, arrest) ~ fin + age + prio, data = d, ties = "efron", cluster = grp)
cat(sprintf("efron coef %.10f %.10f %.10f\n", coef(fit)[1], coef(fit)[2], coef(fit)[3]))
cat(sprintf("efron robust_se %.10f %.10f %.10f\n", sqrt(diag(fit$var))[1], sqrt(diag(fit$var))[2], sqrt(diag(fit$var))[3]))
cat(sprintf("efron model_se %.10f %.10f %.10f\n", sqrt(diag(fit$naive.var))[1], sqrt(diag(fit$naive.var))[2], sqrt(diag(fit$naive.var))[3]))
# counting-process version: split each person at week 20 (entry ties with events at 20)
d2 <- survSplit(Surv(week, arrest) ~ ., data = d, cut = 20, episode = "ep")
fit2 <- coxph(Surv(tstart, week, arrest) ~ fin + age + prio + I((ep == 2) * prio), data = d2,
              ties = "efron", cluster = grp)
cat(sprintf("split coef %.10f %.10f %.10f %.10f\n", coef(fit2)[1], coef(fit2)[2], coef(fit2)[3], coef(fit2)[4]))
cat(sprintf("split robust_se %.10f %.10f %.10f %.10f\n", sqrt(diag(fit2$var))[1], sqrt(diag(fit2$var))[2], sqrt(diag(fit2$var))[3], sqrt(diag(fit2$var))[4]))
