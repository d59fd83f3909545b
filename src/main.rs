fn main() {
    std::process::exit(svc_any::cli::main());
}
