from textrnn.cli import main

raise SystemExit(main())
