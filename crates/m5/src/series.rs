//! Series ids: Kaggle's `ITEM_STORE_evaluation` / `_validation`, Aisle's record key `ITEM_STORE`
//! (as [`aisle_events::series_id`] builds it), and the ids every bottom series carries.

/// Strips Kaggle's `_evaluation` / `_validation` suffix: `FOODS_3_090_CA_1_evaluation` →
/// `FOODS_3_090_CA_1`, the series id Aisle uses as the record key.
pub fn series_key(id: &str) -> &str {
    id.strip_suffix("_evaluation")
        .or_else(|| id.strip_suffix("_validation"))
        .unwrap_or(id)
}

/// The hierarchy attributes of one bottom-level (item × store) series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesMeta {
    /// `ITEM_STORE`, e.g. `FOODS_3_090_CA_1`.
    pub id: String,
    /// e.g. `FOODS_3_090`.
    pub item_id: String,
    /// e.g. `FOODS_3`.
    pub dept_id: String,
    /// e.g. `FOODS`.
    pub cat_id: String,
    /// e.g. `CA_1`.
    pub store_id: String,
    /// e.g. `CA`.
    pub state_id: String,
}

impl SeriesMeta {
    /// Derives the attributes from an item id and a store id (`FOODS_3_090`, `CA_1`), the way
    /// M5 names them: department = item without its number, category = its first part,
    /// state = the store without its number.
    pub fn from_ids(item_id: &str, store_id: &str) -> Option<Self> {
        let dept_id = item_id.rsplit_once('_')?.0;
        let cat_id = dept_id.split_once('_').map_or(dept_id, |(c, _)| c);
        let state_id = store_id.split_once('_')?.0;
        Some(Self {
            id: aisle_events::series_id(item_id, store_id),
            item_id: item_id.to_string(),
            dept_id: dept_id.to_string(),
            cat_id: cat_id.to_string(),
            store_id: store_id.to_string(),
            state_id: state_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_from_ids() {
        let m = SeriesMeta::from_ids("HOUSEHOLD_2_516", "WI_3").unwrap();
        assert_eq!(m.id, "HOUSEHOLD_2_516_WI_3");
        assert_eq!(m.dept_id, "HOUSEHOLD_2");
        assert_eq!(m.cat_id, "HOUSEHOLD");
        assert_eq!(m.state_id, "WI");
        assert!(SeriesMeta::from_ids("X", "CA_1").is_none());
    }

    #[test]
    fn keys_drop_the_kaggle_suffix() {
        assert_eq!(series_key("A_1_001_CA_1_evaluation"), "A_1_001_CA_1");
        assert_eq!(series_key("A_1_001_CA_1_validation"), "A_1_001_CA_1");
        assert_eq!(series_key("A_1_001_CA_1"), "A_1_001_CA_1");
    }
}
