# Reference for tests/engine/test_coxph_separation.py (R 4.2, survival 3.5): which fits R's
# coxph flags with "Loglik converged before variable ...; coefficient may be infinite", and the
# coefficients of a nearby finite fit.
# Run: Rscript tests/reference/cox_infinite.R > tests/reference/cox_infinite.Rout
suppressMessages(library(survival))
report <- function(label, formula, data, ties = "efron", iter = 20) {
  msg <- "none"
  fit <- withCallingHandlers(
    coxph(formula, data = data, ties = ties, iter.max = iter),
    warning = function(w) {
      msg <<- conditionMessage(w)
      invokeRestart("muffleWarning")
    }
  )
  flagged <- if (grepl("coefficient may be infinite", msg)) {
    paste0("infinite:", gsub(" ", "", sub(".*variables? +([0-9, ]+);.*", "\\1", msg)))
  } else if (grepl("did not converge", msg)) {
    "noconvergence"
  } else {
    "none"
  }
  cat(sprintf("%s warning %s\n", label, flagged))
  cat(sprintf("%s coef %s\n", label, paste(sprintf("%.10f", coef(fit)), collapse = " ")))
  cat(sprintf("%s se %s\n", label, paste(sprintf("%.10f", sqrt(diag(fit$var))), collapse = " ")))
}
# survival's own test of the check on two variables (tests/infcox.R): every event has
# x1 = 0 and x2 = 0.
test3 <- data.frame(futime = 1:12, fustat = c(1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0),
                    x1 = rep(0:1, 6), x2 = c(rep(0, 6), rep(1, 6)))
report("infcox", Surv(futime, fustat) ~ x1 + x2, test3, iter = 25)
report("infcox20", Surv(futime, fustat) ~ x1 + x2, test3)
# no events among the exposed (the matched-OR failure of the tester, in Cox form)
noexp <- data.frame(time = c(2, 3, 5, 7, 8, 11, 13, 4, 6, 9, 12, 14),
                    status = c(1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0),
                    exposed = c(0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
                    age = c(61, 70, 55, 66, 72, 59, 68, 63, 58, 71, 65, 60))
report("noexposed", Surv(time, status) ~ exposed + age, noexp)
# the same with one exposed event: finite, R and the engine must agree
oneexp <- noexp
oneexp$status[oneexp$exposed == 1 & oneexp$time == 9] <- 1
report("oneexposed", Surv(time, status) ~ exposed + age, oneexp)
