fn main() {
    let preset = std::env::args().nth(1).unwrap_or("web".into());
    let cfg = pff::Config::preset(&preset).unwrap();
    println!("{}", pff::native::bench::run(&cfg, 2, 3));
}
