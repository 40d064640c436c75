def greet(name):
    greeting = f"Hello, {name}!"
    print(greting)


greet("world")
