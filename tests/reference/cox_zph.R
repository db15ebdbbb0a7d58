# Reference values for tests/analysis/test_ph_test_reference.py (R 4.2, survival 3.5-3):
# cox.zph (the exact score test of survival >= 3.0) for the Rossi recidivism data with
# clusters of 3 consecutive rows (tests/reference/rossi_clustered.csv).
# Run from the repository root: Rscript tests/reference/cox_zph.R > tests/reference/cox_zph.Rout
# Writes tests/reference/cox_zph_tests.csv (chi-square tables, coefficients) and
# tests/reference/cox_zph_resid.csv (scaled Schoenfeld residuals and g(t) for transform "km",
# stratified cases).
#
# Cases (each with ties "efron" and "breslow", transforms km, rank, identity, log):
#   fixed         Surv(week, arrest) ~ fin + age + prio + mar
#   fixed_strata  ... ~ fin + age + prio + fin_s1 + strata(s3); fin_s1 = fin * (s3 == 1) is
#                 constant outside stratum 1 (exercises the per-stratum residual scaling)
#   fixed_weights ... ~ fin + age + prio, case weights w (the KM time scale stays unweighted)
#   split         (tstart, week] after survSplit at weeks 10, 20, 35 (rows entering at a cut are
#                 not at risk for events at it) ~ fin + age + prio + prio_late,
#                 prio_late = prio * (tstart >= 20)
#   split_strata  split ~ fin + age + prio + prio_late + strata(s3), case weights w
#   matched       Surv(week, arrest) ~ fin + age + prio + strata(grp): 144 strata of 3 rows, like
#                 matched sets; fin or prio is constant in some of them
# Models are fitted with eps = 1e-11 so that the comparison is not limited by where R's
# Newton-Raphson stopped.
suppressMessages(library(survival))
cat(R.version.string, "; survival", format(packageVersion("survival")), "\n")
d <- read.csv("tests/reference/rossi_clustered.csv")
d$rid <- seq_len(nrow(d)) - 1L  # 0-based row of rossi_clustered.csv
d$s3 <- d$grp %% 3
d$w <- 1 + (d$grp %% 4) / 4
d$fin_s1 <- d$fin * (d$s3 == 1)
sp <- survSplit(Surv(week, arrest) ~ ., data = d, cut = c(10, 20, 35), episode = "ep")
sp$prio_late <- sp$prio * (sp$tstart >= 20)

ctl <- coxph.control(eps = 1e-11, iter.max = 100)
models <- list(
  fixed = list(Surv(week, arrest) ~ fin + age + prio + mar, d, NULL),
  fixed_strata = list(Surv(week, arrest) ~ fin + age + prio + fin_s1 + strata(s3), d, NULL),
  fixed_weights = list(Surv(week, arrest) ~ fin + age + prio, d, "w"),
  split = list(Surv(tstart, week, arrest) ~ fin + age + prio + prio_late, sp, NULL),
  split_strata = list(Surv(tstart, week, arrest) ~ fin + age + prio + prio_late + strata(s3),
                      sp, "w"),
  matched = list(Surv(week, arrest) ~ fin + age + prio + strata(grp), d, NULL)
)

# The event rows in the order of cox.zph's residuals (its own rule: sorted by stratum and
# time; for (start, stop] data the reverse of the descending order it walks).
zph_rows <- function(fit, data) {
  y <- fit$y
  ny <- ncol(y)
  st <- if (is.null(fit$strata)) rep(0L, nrow(y)) else as.integer(fit$strata) - 1L
  ord <- if (ny == 2) order(st, y[, 1]) else rev(order(-st, -y[, 2]))
  ord[y[ord, ny] == 1]
}

tests <- list()
resid <- list()
for (case in names(models)) {
  m <- models[[case]]
  for (ties in c("efron", "breslow")) {
    data <- m[[2]]
    fit <- if (is.null(m[[3]])) {
      coxph(m[[1]], data = data, ties = ties, control = ctl, x = TRUE, y = TRUE)
    } else {
      data$.w <- data[[m[[3]]]]
      coxph(m[[1]], data = data, ties = ties, control = ctl, weights = .w, x = TRUE, y = TRUE)
    }
    cf <- coef(fit)
    tests[[length(tests) + 1]] <- data.frame(
      case = case, ties = ties, transform = "coef", term = names(cf),
      chisq = unname(cf), df = NA, p = NA
    )
    for (tr in c("km", "rank", "identity", "log")) {
      z <- cox.zph(fit, transform = tr)
      tests[[length(tests) + 1]] <- data.frame(
        case = case, ties = ties, transform = tr, term = rownames(z$table),
        chisq = z$table[, "chisq"], df = z$table[, "df"], p = z$table[, "p"]
      )
      if (tr == "km" && case %in% c("fixed_strata", "split_strata", "matched")) {
        rows <- zph_rows(fit, data)
        stopifnot(all.equal(unname(z$time), unname(fit$y[rows, ncol(fit$y) - 1])))
        key <- if ("tstart" %in% names(data)) data$tstart[rows] else rep(0, length(rows))
        for (term in colnames(z$y)) {
          resid[[length(resid) + 1]] <- data.frame(
            case = case, ties = ties, rid = data$rid[rows], tstart = key,
            time = z$time, g = z$x, term = term, y = unname(z$y[, term])
          )
        }
      }
    }
    print(cox.zph(fit, transform = "km"), digits = 6)
  }
}
tests <- do.call(rbind, tests)
resid <- do.call(rbind, resid)
# write.csv keeps 15 significant digits
write.csv(tests, "tests/reference/cox_zph_tests.csv", row.names = FALSE, quote = FALSE)
write.csv(resid, "tests/reference/cox_zph_resid.csv", row.names = FALSE, quote = FALSE)
cat(nrow(tests), "test rows,", nrow(resid), "residual rows written\n")
