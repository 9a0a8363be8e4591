//! How nodes are named in node scripts, reports and the task tree: `master`, then
//! `slaves:1`, `slaves:2`... for the slaves of index 0, 1... (Heat's `%index%`).

/// The name of the slave of index `index` (from 0): `slaves:1` for 0.
pub fn slave_name(index: u16) -> String {
    format!("slaves:{}", u32::from(index) + 1)
}

/// The index (from 0) of the slave `node` names; `None` for the master or a name that
/// is not a slave's (`slaves:0`, `slaves:x`).
pub fn slave_index(node: &str) -> Option<u16> {
    node.strip_prefix("slaves:")?
        .parse::<u16>()
        .ok()?
        .checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slave_names_and_indices_are_one_apart_and_round_trip() {
        assert_eq!(slave_name(0), "slaves:1");
        assert_eq!(slave_index("slaves:1"), Some(0));
        assert_eq!(slave_index(&slave_name(41)), Some(41));
        for not_a_slave in ["master", "slaves:0", "slaves:", "slaves:x", "slave:1"] {
            assert_eq!(slave_index(not_a_slave), None, "{not_a_slave}");
        }
    }
}
