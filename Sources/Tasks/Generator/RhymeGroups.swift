/// The rhyme groups of Chinese characters: the fourteen rhymes of 中华新韵 (麻 波 皆 开 微 豪 尤
/// 寒 文 唐 庚 齐 支 姑), from the modern readings of pypinyin (`Tools/make_rhyme_table.py` writes
/// `RhymeTable`, and says how readings map to rhymes). A character is in the group of each of
/// its readings; two characters rhyme when their groups meet. Groups are bits of a `UInt16`.
public enum RhymeGroups {
    /// The names of the groups, bit 0 first.
    public static let names: [String] = RhymeTable.groups.map(\.name)

    /// Every character's groups, read once from `RhymeTable`.
    private static let table: [Character: UInt16] = {
        var table: [Character: UInt16] = [:]
        for (bit, group) in RhymeTable.groups.enumerated() {
            for character in group.characters { table[character, default: 0] |= 1 << UInt16(bit) }
        }
        return table
    }()

    /// The groups of a one-character `token` (0 for anything else: punctuation, letters of
    /// other scripts, a character without a vowel final).
    public static func mask(of token: String) -> UInt16 {
        guard token.count == 1, let character = token.first else { return 0 }
        return table[character] ?? 0
    }

    /// `mask(of:)` of every token of a vocabulary, by id.
    public static func masks(of tokens: [String]) -> [UInt16] { tokens.map(mask(of:)) }

    /// The names of the groups in `mask`.
    public static func names(of mask: UInt16) -> [String] {
        names.indices.filter { mask & (1 << UInt16($0)) != 0 }.map { names[$0] }
    }

    /// Whether two tokens share a rhyme group.
    public static func rhyme(_ a: String, _ b: String) -> Bool { mask(of: a) & mask(of: b) != 0 }
}
