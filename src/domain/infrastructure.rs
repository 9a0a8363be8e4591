//! A cluster's shape: how many slaves, and the original's `icclab.disco.components.heat.*`
//! images, flavors and networks.

use serde::{Deserialize, Serialize};

/// How many slave nodes a cluster has: from 0 to `SlaveCount::MAX`. A provider may allow
/// fewer (the local one has `provider.local.max_slaves`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct SlaveCount(u16);

impl SlaveCount {
    /// The most slaves any cluster has, as the manifest bounds the attribute and Heat
    /// templates size their resource groups.
    pub const MAX: u16 = 100;

    pub fn new(count: u16) -> Result<SlaveCount, String> {
        if count <= Self::MAX {
            Ok(SlaveCount(count))
        } else {
            Err(format!(
                "a number of slaves from 0 to {}, got {count}",
                Self::MAX
            ))
        }
    }

    /// A count from any integer, as an attribute gives it.
    pub fn parse(count: i64) -> Result<SlaveCount, String> {
        u16::try_from(count)
            .map_err(|_| format!("a number of slaves from 0 to {}, got {count}", Self::MAX))
            .and_then(SlaveCount::new)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for SlaveCount {
    type Error = String;
    fn try_from(count: u16) -> Result<Self, Self::Error> {
        SlaveCount::new(count)
    }
}

impl From<SlaveCount> for u16 {
    fn from(count: SlaveCount) -> u16 {
        count.0
    }
}

/// The fewest and most slaves a cluster may be scaled to (`minslaves`, `maxslaves`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaveBounds {
    pub min: Option<SlaveCount>,
    pub max: Option<SlaveCount>,
}

impl SlaveBounds {
    /// Why `slaves` is outside the bounds, naming the bound; `None` within them.
    pub fn refuse(&self, slaves: SlaveCount) -> Option<String> {
        use super::attributes::{MAX_SLAVES, MIN_SLAVES};
        match (self.min, self.max) {
            (Some(min), _) if slaves < min => Some(format!(
                "at least {} slaves ({MIN_SLAVES}), got {}",
                min.get(),
                slaves.get()
            )),
            (_, Some(max)) if slaves > max => Some(format!(
                "at most {} slaves ({MAX_SLAVES}), got {}",
                max.get(),
                slaves.get()
            )),
            _ => None,
        }
    }
}

/// The original's `icclab.disco.components.heat.*` values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Infrastructure {
    pub master_image: String,
    pub slave_image: String,
    pub master_flavor: String,
    pub slave_flavor: String,
    pub network_name: String,
    pub external_network_name: String,
    /// `network_name` names an existing network instead of one to make.
    #[serde(default)]
    pub existing_network: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resize_outside_the_bounds_names_the_bound() {
        let count = |n| SlaveCount::new(n).expect("count");
        let bounds = SlaveBounds {
            min: Some(count(1)),
            max: Some(count(4)),
        };
        assert_eq!(bounds.refuse(count(1)), None);
        assert_eq!(bounds.refuse(count(4)), None);
        let low = bounds.refuse(count(0)).expect("below");
        assert!(
            low.contains("at least 1") && low.contains("minslaves"),
            "{low}"
        );
        let high = bounds.refuse(count(5)).expect("above");
        assert!(
            high.contains("at most 4") && high.contains("maxslaves"),
            "{high}"
        );
        assert_eq!(SlaveBounds::default().refuse(count(100)), None);
    }

    #[test]
    fn a_slave_count_stays_within_its_bounds() {
        assert_eq!(SlaveCount::parse(3).map(SlaveCount::get), Ok(3));
        assert!(SlaveCount::parse(-1).is_err());
        assert!(SlaveCount::parse(101).is_err());
        assert!(serde_json::from_str::<SlaveCount>("101").is_err());
        assert_eq!(
            serde_json::from_str::<SlaveCount>("100")
                .map(SlaveCount::get)
                .ok(),
            Some(100)
        );
    }
}
