//! The function symbols of one file, one name per address, and the lookup of the function holding an address.

use goblin::elf::sym::{STB_GLOBAL, STB_WEAK};

/// A function symbol as read, before choosing one name per address.
pub(super) struct Candidate<'a> {
    pub(super) start: u64,
    pub(super) size: u64,
    pub(super) bind: u8,
    pub(super) name: &'a str,
}

impl Candidate<'_> {
    /// Sorts the name reviewers know first among aliases of one address (`ioctl` before `__ioctl` before
    /// `__GI___ioctl`): a symbol with a size, fewer leading underscores, global or weak over local, shorter.
    fn rank(&self) -> (bool, usize, u8, usize, &str) {
        let underscores = self.name.bytes().take_while(|&b| b == b'_').count();
        let bind = match self.bind {
            STB_GLOBAL | STB_WEAK => 0,
            _ => 1,
        };
        (self.size == 0, underscores, bind, self.name.len(), self.name)
    }
}

/// Function symbols sorted by start address, one per address, names in one string.
#[derive(Debug, Default)]
pub(super) struct Symbols {
    syms: Vec<FuncSym>,
    names: String,
}

#[derive(Debug)]
struct FuncSym {
    start: u64,
    /// 0 when the symbol does not say.
    size: u64,
    name: u32,
    name_len: u32,
}

impl Symbols {
    pub(super) fn build<'a>(candidates: impl Iterator<Item = Candidate<'a>>) -> Symbols {
        let mut candidates: Vec<Candidate> = candidates.collect();
        candidates.sort_unstable_by(|a, b| a.start.cmp(&b.start).then_with(|| a.rank().cmp(&b.rank())));
        candidates.dedup_by_key(|c| c.start);
        let mut symbols = Symbols::default();
        symbols.syms.reserve_exact(candidates.len());
        for c in candidates {
            let (Ok(name), Ok(name_len)) = (u32::try_from(symbols.names.len()), u32::try_from(c.name.len())) else {
                break;
            };
            symbols.names.push_str(c.name);
            symbols.syms.push(FuncSym { start: c.start, size: c.size, name, name_len });
        }
        symbols
    }

    /// The function holding `addr - 1` and its start. `addr` is a return address or the address after a syscall
    /// instruction, which may be one past the function's last byte. A function whose size is known must contain the
    /// address: past its end lies code with no symbol (a static function of a stripped library), which is better
    /// left unnamed than named after its exported neighbour.
    pub(super) fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let key = addr.checked_sub(1)?;
        let sym = &self.syms[self.syms.partition_point(|s| s.start <= key).checked_sub(1)?];
        if sym.size != 0 && key - sym.start >= sym.size {
            return None;
        }
        let name = self.names.get(sym.name as usize..sym.name as usize + sym.name_len as usize)?;
        Some((name, sym.start))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Bytes the table keeps, for the cache bound.
    pub(super) fn cost(&self) -> usize {
        self.syms.capacity() * std::mem::size_of::<FuncSym>() + self.names.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(list: &[(u64, u64, u8, &str)]) -> Symbols {
        Symbols::build(list.iter().map(|&(start, size, bind, name)| Candidate { start, size, bind, name }))
    }

    #[test]
    fn lookup_takes_the_enclosing_function_and_the_known_name() {
        const LOCAL: u8 = 0;
        let s = symbols(&[
            (0x2000, 0x10, LOCAL, "__GI___ioctl"),
            (0x2000, 0x10, STB_GLOBAL, "__ioctl"),
            (0x2000, 0x10, STB_WEAK, "ioctl"),
            (0x1000, 0x100, STB_GLOBAL, "first"),
            (0x3000, 0, STB_GLOBAL, "unsized"),
        ]);
        assert_eq!(s.lookup(0x1000), None, "before the first symbol");
        assert_eq!(s.lookup(0x1001), Some(("first", 0x1000)));
        assert_eq!(s.lookup(0x1100), Some(("first", 0x1000)), "one past the end: the syscall was the last insn");
        assert_eq!(s.lookup(0x1101), None, "past a sized function: an unnamed one");
        assert_eq!(s.lookup(0x200b), Some(("ioctl", 0x2000)));
        assert_eq!(s.lookup(0x9000), Some(("unsized", 0x3000)));
        assert_eq!(symbols(&[]).lookup(0x1000), None);
        assert_eq!(s.lookup(0), None);
    }
}
