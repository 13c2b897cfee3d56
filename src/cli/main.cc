// kiln: the command line for kilnd.
#include "cli/app.h"

int main(int argc, char** argv) { return kiln::cli::run_app(argc, argv); }
