//! A small ledger with the kind of mistakes generated code makes: a missing import, a misspelt
//! variable and a binding that should be mutable. `selfheal heal` repairs it from the compiler's
//! own suggestions, without a model.

struct Ledger {
    balances: HashMap<String, i64>,
}

impl Ledger {
    fn new() -> Self {
        Ledger {
            balances: HashMap::new(),
        }
    }

    fn deposit(&mut self, account: &str, amount: i64) {
        *self.balances.entry(account.to_string()).or_insert(0) += amount;
    }

    fn transfer(&mut self, from: &str, to: &str, amount: i64) -> Result<(), String> {
        let available = self.balances.get(from).copied().unwrap_or(0);
        if available < amout {
            return Err(format!("{from} has {available}, not {amount}"));
        }
        self.deposit(from, -amount);
        self.deposit(to, amount);
        Ok(())
    }
}

fn main() {
    let book = Ledger::new();
    book.deposit("alice", 100);
    match book.transfer("alice", "bob", 30) {
        Ok(()) => println!("alice → bob: 30"),
        Err(e) => println!("refused: {e}"),
    }
    let mut accounts: Vec<_> = book.balances.iter().collect();
    accounts.sort();
    println!("{accounts:?}");
}
