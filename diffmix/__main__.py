from diffmix.cli import main

main()
