//! The COCO-80 classes the detectors emit, and the label → inventory-name mapping.

use std::collections::BTreeMap;

/// COCO category ids (1..90, with gaps) of the 80 contiguous model class indices 0..79.
const COCO_IDS: [i32; 80] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
    85, 86, 87, 88, 89, 90,
];

/// Standard COCO names of the 80 classes, in model index order.
const COCO_NAMES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// A COCO class: the model's contiguous index, the COCO category id and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CocoClass {
    /// Model output index, 0..79.
    pub index: usize,
    /// COCO category id, 1..90 (what the original TF detector and the schema's `class_id` use).
    pub id: i32,
    /// Standard COCO name, e.g. `"sports ball"`.
    pub name: &'static str,
}

/// The class of model index `index`, `None` outside 0..79.
pub fn coco_class(index: usize) -> Option<CocoClass> {
    Some(CocoClass {
        index,
        id: *COCO_IDS.get(index)?,
        name: COCO_NAMES.get(index)?,
    })
}

/// The class named `name` (standard COCO spelling).
pub fn coco_by_name(name: &str) -> Option<CocoClass> {
    COCO_NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(coco_class)
}

/// COCO classes a shopper plausibly puts in a cart (used by the simulator).
pub const RETAIL_LABELS: [&str; 14] = [
    "cup",
    "bowl",
    "fork",
    "spoon",
    "sports ball",
    "tennis racket",
    "frisbee",
    "bottle",
    "banana",
    "apple",
    "orange",
    "knife",
    "wine glass",
    "book",
];

/// COCO label → inventory item name. Labels without an entry keep their COCO name (identity),
/// so with an empty map the record key is the detector's label, as the seed inventory expects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelMap(BTreeMap<String, String>);

impl LabelMap {
    /// A map from explicit `label → item` pairs.
    pub fn new(pairs: BTreeMap<String, String>) -> Self {
        LabelMap(pairs)
    }

    /// The inventory name of COCO label `label`.
    pub fn item<'a>(&'a self, label: &'a str) -> &'a str {
        self.0.get(label).map(String::as_str).unwrap_or(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_known_classes() {
        assert_eq!(coco_by_name("cup").map(|c| (c.index, c.id)), Some((41, 47)));
        assert_eq!(coco_by_name("toothbrush").map(|c| c.id), Some(90));
        assert_eq!(coco_by_name("sports ball").map(|c| c.id), Some(37));
        assert!(coco_class(80).is_none());
        for l in RETAIL_LABELS {
            assert!(coco_by_name(l).is_some(), "{l}");
        }
    }

    #[test]
    fn label_map_defaults_to_identity() {
        let m = LabelMap::new([("sports ball".to_string(), "soccer ball".to_string())].into());
        assert_eq!(m.item("sports ball"), "soccer ball");
        assert_eq!(m.item("cup"), "cup");
    }
}
