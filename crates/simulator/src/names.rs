//! Realistic, deterministic fake data: usernames ("First Last", always with a space),
//! emails, passwords, message texts, and Zipf-like popularity.

use std::collections::HashSet;

use rand::distributions::WeightedIndex;
use rand::prelude::*;

const FIRST: &[&str] = &[
    "Roger",
    "Mary",
    "James",
    "Patricia",
    "John",
    "Jennifer",
    "Robert",
    "Linda",
    "Michael",
    "Elizabeth",
    "William",
    "Barbara",
    "David",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Charles",
    "Nancy",
    "Christopher",
    "Lisa",
    "Daniel",
    "Betty",
    "Matthew",
    "Margaret",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Donald",
    "Kimberly",
    "Steven",
    "Emily",
    "Paul",
    "Donna",
    "Andrew",
    "Michelle",
    "Joshua",
    "Dorothy",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Edward",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Timothy",
    "Sharon",
    "Jason",
    "Laura",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Kathleen",
    "Jacob",
    "Amy",
    "Gary",
    "Shirley",
    "Nicholas",
    "Angela",
    "Eric",
    "Helen",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Nicole",
    "Scott",
    "Emma",
    "Brandon",
    "Samantha",
    "Benjamin",
    "Katherine",
    "Samuel",
    "Christine",
    "Gregory",
    "Debra",
    "Frank",
    "Rachel",
    "Alexander",
    "Catherine",
    "Raymond",
    "Carolyn",
    "Patrick",
    "Janet",
    "Jack",
    "Ruth",
    "Dennis",
    "Maria",
    "Jerry",
    "Heather",
    "Tyler",
    "Diane",
    "Aaron",
    "Virginia",
    "Jose",
    "Julie",
    "Adam",
    "Joyce",
    "Henry",
    "Victoria",
    "Nathan",
    "Olivia",
    "Douglas",
    "Kelly",
    "Zachary",
    "Christina",
    "Peter",
    "Lauren",
    "Kyle",
    "Joan",
    "Walter",
    "Evelyn",
    "Ethan",
    "Judith",
    "Jeremy",
    "Megan",
    "Harold",
    "Cheryl",
    "Keith",
    "Andrea",
    "Christian",
    "Hannah",
    "Bruce",
    "Martha",
    "Noah",
    "Jacqueline",
    "Gerald",
    "Frances",
    "Carl",
    "Gloria",
    "Terry",
    "Ann",
    "Sean",
    "Teresa",
    "Austin",
    "Kathryn",
    "Arthur",
    "Sara",
    "Lawrence",
    "Janice",
    "Jesse",
    "Jean",
    "Dylan",
    "Alice",
    "Bryan",
    "Madison",
    "Joe",
    "Doris",
    "Mads",
    "Freja",
    "Søren",
    "Ida",
    "Anders",
    "Mette",
    "Jörg",
    "Zoë",
    "José",
    "Inés",
    "Björn",
    "Åsa",
    "François",
    "Chloé",
    "Łukasz",
    "Agnieszka",
    "Mikkel",
    "Signe",
    "Rasmus",
    "Astrid",
];

const LAST: &[&str] = &[
    "Histand",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Hansen",
    "Jensen",
    "Nielsen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Müller",
    "Schröder",
    "Lindqvist",
    "Åberg",
    "Dubois",
    "Lefèvre",
    "Kowalski",
    "Wiśniewski",
    "O'Brien",
    "D'Angelo",
];

const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "yahoo.com",
    "outlook.com",
    "itu.dk",
    "mail.dk",
    "example.org",
    "proton.me",
];

const WORDS: &[&str] = &[
    "the",
    "a",
    "and",
    "to",
    "of",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "hot",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
    "than",
    "call",
    "first",
    "who",
    "may",
    "down",
    "side",
    "been",
    "now",
    "find",
    "coffee",
    "deploy",
    "docker",
    "rust",
    "server",
    "friday",
    "weekend",
    "lecture",
    "course",
    "build",
    "test",
    "green",
    "red",
    "pipeline",
    "monitoring",
    "grafana",
    "database",
    "swarm",
    "latency",
    "whale",
    "ship",
    "sea",
    "captain",
    "harpoon",
    "storm",
    "morning",
    "night",
    "rain",
    "sun",
    "happy",
    "tired",
];

/// Fragments that exercise escaping and encoding end to end: HTML specials, quotes,
/// ampersands, accents, other scripts, emoji.
const SPICE: &[&str] = &[
    "<script>alert(\"hi\")</script>",
    "a < b && c > d",
    "\"quoted\"",
    "it's 'fine'",
    "Tom & Jerry",
    "<b>bold</b>",
    "café crème",
    "naïve façade",
    "日本語のテキスト",
    "Привет мир",
    "😀🎉",
    "ünïcödé ✓",
    "100% sure",
    "#hashtag @mention",
    "1 + 1 = 2?",
];

/// Longest generated message, in characters (the course's scenario stays under 150).
pub const MESSAGE_MAX_CHARS: usize = 150;

/// Makes `count` distinct usernames, none of which is in `taken` (the names it returns are
/// added to `taken`). Always "First Last"; when a pair is used up a middle initial and
/// then a number are added, so any count works and every name keeps its spaces.
pub fn unique_usernames(rng: &mut impl Rng, count: usize, taken: &mut HashSet<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let last = LAST[rng.gen_range(0..LAST.len())];
        let mut name = format!("{first} {last}");
        if taken.contains(&name) {
            let initial = (b'A' + rng.gen_range(0..26u8)) as char;
            name = format!("{first} {initial}. {last}");
        }
        if taken.contains(&name) {
            name = format!("{first} {last} {}", rng.gen_range(2..1_000_000u32));
        }
        if taken.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// The course's style: `Roger+Histand@hotmail.com`.
pub fn email_for(rng: &mut impl Rng, username: &str) -> String {
    let local: String = username.split_whitespace().collect::<Vec<_>>().join("+");
    format!("{local}@{}", EMAIL_DOMAINS[rng.gen_range(0..EMAIL_DOMAINS.len())])
}

/// 5 to 10 printable ASCII characters, like the course's scenario; never a backslash, a
/// space or a tab, so a scenario line stays identical to the course's unescaped format.
pub fn password(rng: &mut impl Rng) -> String {
    let len = rng.gen_range(5..=10);
    (0..len)
        .map(|_| loop {
            let c = rng.gen_range(0x21u8..=0x7e) as char;
            if c != '\\' {
                break c;
            }
        })
        .collect()
}

/// A message of 1 to [`MESSAGE_MAX_CHARS`] characters: words, and now and then a
/// fragment with HTML specials, quotes or non-ASCII text. Never blank, never a tab,
/// newline or backslash.
pub fn message(rng: &mut impl Rng) -> String {
    // Mostly short-to-medium, sometimes up to the limit.
    let target =
        if rng.gen_bool(0.15) { rng.gen_range(100..=MESSAGE_MAX_CHARS) } else { rng.gen_range(5..100) };
    let mut text = String::new();
    let mut chars = 0;
    while chars < target {
        let piece = if rng.gen_bool(0.07) {
            SPICE[rng.gen_range(0..SPICE.len())]
        } else {
            WORDS[rng.gen_range(0..WORDS.len())]
        };
        if chars > 0 {
            text.push(' ');
            chars += 1;
        }
        text.push_str(piece);
        chars += piece.chars().count();
    }
    if rng.gen_bool(0.3) {
        text.push(['.', '!', '?'][rng.gen_range(0..3)]);
    }
    // Capitalise the first letter now and then, like people do.
    let mut text: String = text.chars().take(MESSAGE_MAX_CHARS).collect();
    text.truncate(text.trim_end().len());
    if rng.gen_bool(0.6) {
        let mut cs = text.chars();
        if let Some(c) = cs.next() {
            text = c.to_uppercase().chain(cs).collect();
        }
    }
    text
}

/// Zipf-like weights `1 / (rank + 1)^s` over `n` items, where each item's rank is a
/// random permutation (so popularity does not follow registration order).
pub fn zipf_weights(rng: &mut impl Rng, n: usize, s: f64) -> Vec<f64> {
    let mut ranks: Vec<usize> = (0..n).collect();
    ranks.shuffle(rng);
    ranks.into_iter().map(|r| 1.0 / ((r + 1) as f64).powf(s)).collect()
}

/// A sampler over a fixed population with Zipf-like skew.
pub struct Zipf(WeightedIndex<f64>);

impl Zipf {
    /// Panics when `n == 0`.
    pub fn new(rng: &mut impl Rng, n: usize, s: f64) -> Self {
        Self(WeightedIndex::new(zipf_weights(rng, n, s)).expect("at least one item"))
    }

    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        self.0.sample(rng)
    }
}

/// A sampler over a population that grows (users registering over time): a Fenwick
/// tree of weights, O(log n) to add an item or draw one.
#[derive(Debug, Clone, Default)]
pub struct GrowingWeights {
    tree: Vec<f64>,
    len: usize,
    total: f64,
}

impl GrowingWeights {
    pub fn with_capacity(n: usize) -> Self {
        Self { tree: vec![0.0; n + 1], len: 0, total: 0.0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends an item with weight `w`; its index is the previous `len()`.
    pub fn push(&mut self, w: f64) {
        if self.len + 1 >= self.tree.len() {
            // Rebuild at double size: a Fenwick tree cannot simply be extended.
            let weights: Vec<f64> = (0..self.len).map(|i| self.weight(i)).collect();
            let mut bigger = Self::with_capacity((self.tree.len() * 2).max(16));
            for w in weights {
                bigger.push(w);
            }
            *self = bigger;
        }
        self.len += 1;
        self.total += w;
        let mut i = self.len;
        while i < self.tree.len() {
            self.tree[i] += w;
            i += i & i.wrapping_neg();
        }
    }

    fn prefix(&self, mut i: usize) -> f64 {
        let mut s = 0.0;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    fn weight(&self, i: usize) -> f64 {
        self.prefix(i + 1) - self.prefix(i)
    }

    /// Draws an index in `0..len()` with probability proportional to its weight.
    /// Panics when empty.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        assert!(self.len > 0, "sample from an empty population");
        let mut target = rng.gen::<f64>() * self.total;
        let mut pos = 0;
        let mut step = self.tree.len().next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && self.tree[next] <= target {
                pos = next;
                target -= self.tree[next];
            }
            step >>= 1;
        }
        pos.min(self.len - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;

    #[test]
    fn usernames_are_unique_and_have_spaces_even_past_the_name_lists() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut taken = HashSet::new();
        let n = FIRST.len() * LAST.len() + 5_000;
        let names = unique_usernames(&mut rng, n, &mut taken);
        assert_eq!(names.len(), n);
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), n);
        assert!(names.iter().all(|u| u.contains(' ') && u.chars().count() <= 64 && !u.contains('/')));
    }

    #[test]
    fn messages_are_bounded_and_clean() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..5_000 {
            let m = message(&mut rng);
            assert!(!m.trim().is_empty());
            assert!(m.chars().count() <= MESSAGE_MAX_CHARS, "{m}");
            assert!(!m.contains(['\t', '\n', '\r', '\\']));
        }
    }

    #[test]
    fn growing_weights_samples_in_proportion() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut w = GrowingWeights::with_capacity(2);
        for x in [1.0, 0.0, 3.0, 6.0] {
            w.push(x);
        }
        let mut counts = [0usize; 4];
        for _ in 0..100_000 {
            counts[w.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        // Expected 10 %, 30 %, 60 %, with generous slack.
        assert!((8_000..12_000).contains(&counts[0]), "{counts:?}");
        assert!((27_000..33_000).contains(&counts[2]), "{counts:?}");
        assert!((57_000..63_000).contains(&counts[3]), "{counts:?}");
    }
}
