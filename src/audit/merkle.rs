//! The RFC 6962 Merkle tree hash over entry hashes (DESIGN §9), computed incrementally:
//! a [`Frontier`] keeps the roots of the perfect subtrees along the right edge (at most
//! 64), so a checkpoint extends the previous one by reading only the new entries, and a
//! verifier computes every checkpoint's root in one pass over the log.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`: the hash of a leaf, here a 32-byte entry hash.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The right edge of a growing tree: perfect subtree roots, largest (leftmost) first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(height, root)`: a subtree of `2^height` leaves.
    subtrees: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf, given as the data it hashes (an entry hash).
    pub fn push(&mut self, data: &[u8]) {
        let mut height = 0;
        let mut hash = leaf_hash(data);
        // Like carrying in a binary counter: equal-sized neighbours merge.
        while let Some(&(top_height, top)) = self.subtrees.last() {
            if top_height != height {
                break;
            }
            self.subtrees.pop();
            hash = node_hash(&top, &hash);
            height += 1;
        }
        self.subtrees.push((height, hash));
        self.size += 1;
    }

    /// The tree hash of the leaves pushed so far. RFC 6962 splits at the largest power of
    /// two below the size, which is exactly folding the right-edge subtrees from the right.
    pub fn root(&self) -> Hash {
        let mut iter = self.subtrees.iter().rev();
        let Some(&(_, mut acc)) = iter.next() else {
            return empty_root();
        };
        for (_, left) in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// The subtree roots, for storing beside a checkpoint.
    pub fn to_hex(&self) -> Vec<String> {
        self.subtrees
            .iter()
            .map(|(h, root)| format!("{h}:{}", hex::encode(root)))
            .collect()
    }

    /// Rebuilds a frontier stored with [`Frontier::to_hex`]; `None` if it does not
    /// describe a tree of `size` leaves.
    pub fn from_hex(size: u64, parts: &[String]) -> Option<Self> {
        let mut subtrees = Vec::with_capacity(parts.len());
        let mut total = 0u64;
        for part in parts {
            let (height, root) = part.split_once(':')?;
            let height: u32 = height.parse().ok().filter(|h| *h < 64)?;
            let root: Hash = hex::decode(root).ok()?.try_into().ok()?;
            if subtrees.last().is_some_and(|&(prev, _)| prev <= height) {
                return None;
            }
            total += 1u64 << height;
            subtrees.push((height, root));
        }
        (total == size).then_some(Frontier { size, subtrees })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 §2.1, written as the RFC states it.
    fn mth(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                // the largest power of two strictly less than n
                let mut k2 = 1;
                while k2 * 2 < n {
                    k2 *= 2;
                }
                node_hash(&mth(&leaves[..k2]), &mth(&leaves[k2..]))
            }
        }
    }

    #[test]
    fn matches_the_rfc_definition_for_every_size_up_to_300() {
        let leaves: Vec<Vec<u8>> = (0..300u32)
            .map(|i| Sha256::digest(i.to_be_bytes()).to_vec())
            .collect();
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), mth(&[]));
        for n in 1..=leaves.len() {
            frontier.push(&leaves[n - 1]);
            assert_eq!(frontier.root(), mth(&leaves[..n]), "size {n}");
            let stored = Frontier::from_hex(n as u64, &frontier.to_hex()).unwrap();
            assert_eq!(stored, frontier);
        }
    }

    /// The RFC 6962 test vectors (as used by Certificate Transparency implementations):
    /// the leaves are the byte strings below, hashed as leaves directly.
    #[test]
    fn known_vectors() {
        let leaves: Vec<Vec<u8>> = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect();
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut frontier = Frontier::new();
        for (leaf, want) in leaves.iter().zip(expected) {
            frontier.push(leaf);
            assert_eq!(
                hex::encode(frontier.root()),
                want,
                "size {}",
                frontier.size()
            );
        }
    }

    #[test]
    fn a_stored_frontier_of_the_wrong_size_is_refused() {
        let mut frontier = Frontier::new();
        for i in 0..5u8 {
            frontier.push(&[i]);
        }
        assert!(Frontier::from_hex(6, &frontier.to_hex()).is_none());
        assert!(Frontier::from_hex(5, &["x".into()]).is_none());
    }
}
