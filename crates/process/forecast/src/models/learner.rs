//! The tree learners behind [`super::gbdt::Gbdt`]: gradient-boosted trees from crates.io, both
//! pure Rust.
//!
//! * `Learner::Forust` (`forust-ml` 0.8, the default): XGBoost-style histogram boosting with
//!   a fixed number of rounds; squared loss.
//! * `Learner::Perpetual` (`perpetual` 3.0.0-rc.2, behind the `perpetual` feature; its 1.x and
//!   2.x releases need a nightly compiler): one `budget` instead of learning rate, depth and
//!   rounds (it stops by its own generalisation check); squared, Poisson or Tweedie loss.
//!
//! Why forust is the default is measured in BENCHMARKS.md ("Issue 16 part 2"): more accurate
//! on the real and the synthetic series, steady across settings, and a third of the memory;
//! perpetual fits 5× faster but its budget is fragile (1.0 fell below seasonal naive).

use crate::features::FeatureMatrix;

/// Errors of fitting a learner.
#[derive(Debug, thiserror::Error)]
pub enum LearnerError {
    /// No training rows.
    #[error("no training rows")]
    Empty,
    /// The learner rejected its input or configuration.
    #[error("{learner}: {message}")]
    Failed {
        /// Which learner.
        learner: &'static str,
        /// Its message.
        message: String,
    },
}

/// Loss of the boosted trees (Poisson and Tweedie predict `exp` of the trees' sum).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Squared error.
    Squared,
    /// Poisson deviance (log link).
    Poisson,
    /// Tweedie deviance with variance power `p` in (1, 2) (log link), the M5 winners' choice.
    Tweedie(f64),
}

/// A learner and its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Learner {
    /// `perpetual::PerpetualBooster`.
    #[cfg(feature = "perpetual")]
    Perpetual {
        /// Complexity budget (0.5 small .. 2 large).
        budget: f32,
        /// Loss.
        loss: Loss,
        /// Hard cap on boosting rounds (`None`: perpetual's own stopping).
        iteration_limit: Option<usize>,
    },
    /// `forust_ml::GradientBooster` (squared loss, depth-wise trees).
    Forust {
        /// Boosting rounds.
        iterations: usize,
        /// Shrinkage.
        learning_rate: f32,
        /// Tree depth.
        max_depth: usize,
        /// Row subsample per tree.
        subsample: f32,
    },
}

impl Default for Learner {
    /// Forust, 300 rounds of depth-6 trees at learning rate 0.05 on 80 % of the rows each.
    fn default() -> Self {
        Self::Forust {
            iterations: 300,
            learning_rate: 0.05,
            max_depth: 6,
            subsample: 0.8,
        }
    }
}

/// A fitted learner.
pub enum Fitted {
    /// Perpetual.
    #[cfg(feature = "perpetual")]
    Perpetual(Box<perpetual::PerpetualBooster>, Loss),
    /// Forust.
    Forust(Box<forust_ml::GradientBooster>),
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "perpetual")]
            Self::Perpetual(b, l) => write!(
                f,
                "Perpetual({} trees, {l:?})",
                b.get_prediction_trees().len()
            ),
            Self::Forust(b) => write!(f, "Forust({} trees)", b.trees.len()),
        }
    }
}

impl Learner {
    /// Name with settings, for reports.
    pub fn name(&self) -> String {
        match self {
            #[cfg(feature = "perpetual")]
            Self::Perpetual {
                budget,
                loss,
                iteration_limit,
            } => {
                let cap = iteration_limit.map_or(String::new(), |n| format!(",rounds<={n}"));
                format!("perpetual(budget={budget},{}{cap})", loss_name(*loss))
            }
            Self::Forust {
                iterations,
                learning_rate,
                max_depth,
                subsample,
            } => format!(
                "forust(rounds={iterations},lr={learning_rate},depth={max_depth},subsample={subsample})"
            ),
        }
    }

    /// Fits on `x` → `y` with `threads` threads (`None`: all cores).
    pub fn fit(
        &self,
        x: &FeatureMatrix,
        y: &[f64],
        threads: Option<usize>,
        seed: u64,
    ) -> Result<Fitted, LearnerError> {
        if x.rows == 0 || y.len() != x.rows {
            return Err(LearnerError::Empty);
        }
        match *self {
            #[cfg(feature = "perpetual")]
            Self::Perpetual {
                budget,
                loss,
                iteration_limit,
            } => {
                use perpetual::objective::Objective;
                let objective = match loss {
                    Loss::Squared => Objective::SquaredLoss,
                    Loss::Poisson => Objective::PoissonLoss,
                    Loss::Tweedie(p) => Objective::TweedieLoss { p: Some(p) },
                };
                let mut b = perpetual::PerpetualBooster::default()
                    .set_objective(objective)
                    .set_budget(budget)
                    .set_num_threads(threads)
                    .set_iteration_limit(iteration_limit)
                    .set_seed(seed);
                let m = perpetual::Matrix::new(&x.data, x.rows, x.cols);
                b.fit(&m, y, None, None).map_err(|e| LearnerError::Failed {
                    learner: "perpetual",
                    message: e.to_string(),
                })?;
                Ok(Fitted::Perpetual(Box::new(b), loss))
            }
            Self::Forust {
                iterations,
                learning_rate,
                max_depth,
                subsample,
            } => {
                let fail = |e: forust_ml::errors::ForustError| LearnerError::Failed {
                    learner: "forust",
                    message: e.to_string(),
                };
                let mut b = forust_ml::GradientBooster::default()
                    .set_objective_type(forust_ml::objective::ObjectiveType::SquaredLoss)
                    .set_iterations(iterations)
                    .set_learning_rate(learning_rate)
                    .set_max_depth(max_depth)
                    .set_subsample(subsample)
                    .set_min_leaf_weight(20.0)
                    .set_num_threads(threads)
                    .set_seed(seed);
                if subsample < 1.0 {
                    b = b.set_sample_method(forust_ml::sampler::SampleMethod::Random);
                }
                let m = forust_ml::Matrix::new(&x.data, x.rows, x.cols);
                b.fit_unweighted(&m, y, None).map_err(fail)?;
                Ok(Fitted::Forust(Box::new(b)))
            }
        }
    }
}

#[cfg(feature = "perpetual")]
fn loss_name(l: Loss) -> String {
    match l {
        Loss::Squared => "squared".into(),
        Loss::Poisson => "poisson".into(),
        Loss::Tweedie(p) => format!("tweedie{p}"),
    }
}

impl Fitted {
    /// Predicted sales per row (never negative).
    pub fn predict(&self, x: &FeatureMatrix) -> Vec<f64> {
        match self {
            #[cfg(feature = "perpetual")]
            Self::Perpetual(b, loss) => {
                let m = perpetual::Matrix::new(&x.data, x.rows, x.cols);
                let raw = b.predict(&m, true);
                match loss {
                    Loss::Squared => raw.into_iter().map(|v| v.max(0.0)).collect(),
                    Loss::Poisson | Loss::Tweedie(_) => raw.into_iter().map(f64::exp).collect(),
                }
            }
            Self::Forust(b) => {
                let m = forust_ml::Matrix::new(&x.data, x.rows, x.cols);
                b.predict(&m, true)
                    .into_iter()
                    .map(|v| v.max(0.0))
                    .collect()
            }
        }
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        match self {
            #[cfg(feature = "perpetual")]
            Self::Perpetual(b, _) => b.get_prediction_trees().len(),
            Self::Forust(b) => b.trees.len(),
        }
    }
}
